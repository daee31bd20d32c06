/*
 * Names and messages of the library's status codes.
 */
#include "kaifa/status.h"

static const struct {
        const char *name;
        const char *message;
} status_text[KM_STATUS_COUNT_] = {
        [0] = {"ok", "success"},
        [1] = {"hcs", "header checksum (HCS) mismatch"},
        [2] = {"fcs", "frame checksum (FCS) mismatch"},
        [3] = {"truncated", "input ended inside a frame"},
        [4] = {"bad_length", "impossible frame length"},
        [5] = {"not_dlms", "frame carries no DLMS data"},
        [6] = {"not_notification", "APDU is not a data-notification"},
        [7] = {"encrypted", "ciphered APDU and no key configured"},
        [8] = {"malformed", "malformed A-XDR data"},
        [9] = {"too_deep", "data nested too deeply"},
        [10] = {"unknown_list", "unknown list layout"},
        [11] = {"segment", "segment out of order or too long"},
        [12] = {"empty", "frame without information field"},
        [13] = {"checksum", "frame checksum mismatch (M-Bus checksum, P1 CRC)"},
        [14] = {"block", "block transfer with a missing or repeated block"},
        [15] = {"p1_text", "DSMR/P1 text telegram (no P1 parser)"},
        [16] = {"auth_failed", "authentication tag does not verify (wrong key or damaged frame)"},
        [17] = {"decrypt_failed", "ciphertext does not decrypt to an APDU (wrong key?)"},
        [18] = {"replay", "invocation counter not above the last one seen"},
        [19] = {"cipher_header", "malformed or truncated security header"},
};

static int status_index(km_status s)
{
        int i = -(int)s;
        return i >= 0 && i < KM_STATUS_COUNT_ ? i : -1;
}

const char *km_strerror(km_status s)
{
        int i = status_index(s);
        return i < 0 ? "unknown error" : status_text[i].message;
}

const char *km_status_name(km_status s)
{
        int i = status_index(s);
        return i < 0 ? "unknown" : status_text[i].name;
}
