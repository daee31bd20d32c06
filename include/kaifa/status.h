/*
 * Status codes of the decoder library: 0 is success, failures are negative.
 * km_strerror() gives a short English phrase for each.
 */
#ifndef KAIFA_STATUS_H
#define KAIFA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum km_status {
        KM_OK = 0,
        KM_ERR_HCS = -1,           /* header check sequence wrong */
        KM_ERR_FCS = -2,           /* frame check sequence wrong */
        KM_ERR_TRUNCATED = -3,     /* input ended inside a frame */
        KM_ERR_BAD_LENGTH = -4,    /* frame length field impossible */
        KM_ERR_NOT_DLMS = -5,      /* frame carries no LLC/DLMS information */
        KM_ERR_NOT_NOTIFICATION = -6, /* APDU is not a data-notification */
        KM_ERR_ENCRYPTED = -7,     /* ciphered APDU and no key to open it */
        KM_ERR_MALFORMED = -8,     /* A-XDR data runs past its end or has a bad tag */
        KM_ERR_TOO_DEEP = -9,      /* nesting deeper than KM_AXDR_MAX_DEPTH */
        KM_ERR_UNKNOWN_LIST = -10, /* a list with no OBIS codes that no family knows */
        KM_ERR_SEGMENT = -11,      /* segment out of order, or reassembly overflow */
        KM_ERR_EMPTY = -12,        /* frame without information field */
        KM_ERR_CHECKSUM = -13,     /* M-Bus frame checksum or P1 CRC wrong */
        KM_ERR_BLOCK = -14,        /* general-block-transfer block missing or repeated */
        KM_ERR_P1_TEXT = -15,      /* a DSMR/P1 text telegram and no P1 parser */
        KM_ERR_AUTH_FAILED = -16,  /* GCM tag does not verify: wrong AK or EK, or damage */
        KM_ERR_DECRYPT = -17,      /* ciphertext does not open to an APDU: wrong key? */
        KM_ERR_REPLAY = -18,       /* invocation counter not above the last one seen */
        KM_ERR_CIPHER_HEADER = -19, /* ciphered APDU with a bad or truncated security header */
        KM_STATUS_COUNT_ = 20
} km_status;

/* A ciphered APDU arrived and no key is known for its system title. */
#define KM_ERR_NO_KEY KM_ERR_ENCRYPTED

const char *km_strerror(km_status s);

/* Short identifier for counters and JSON keys: "fcs", "hcs", "truncated" ... */
const char *km_status_name(km_status s);

#ifdef __cplusplus
}
#endif

#endif
