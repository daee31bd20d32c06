/*
 * Raw DLMS framer: APDUs with no link framing, as other tools and gateways
 * capture them (an LLC header E6 E7 00 and/or an APDU: 0F data-notification,
 * DB/DC ciphered, E0 general-block-transfer). An APDU ends where its own
 * encoding says: the one Data value of a notification, the length of a
 * ciphered APDU or block. A bare APDU tag is trusted only at the start of a
 * record (the input, a line of a hex dump, right after another APDU);
 * elsewhere only the LLC header opens one.
 */
#ifndef KAIFA_RAW_H
#define KAIFA_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kaifa/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_RAW_MAX 4096
#define KM_RAW_BUF (2 * KM_RAW_MAX)

typedef struct km_raw {
        uint8_t buf[KM_RAW_BUF];
        size_t len;
        size_t pos;
        bool eof;
        bool record_start; /* pos is the start of a record */
        bool cut;          /* a record boundary follows the buffered bytes */
} km_raw;

struct km_frame;
void km_raw_init(km_raw *r, bool ignore_checksum);
size_t km_raw_push(km_raw *r, const uint8_t *data, size_t n);
void km_raw_finish(km_raw *r);
void km_raw_boundary(km_raw *r);
/* Returns a km_frame_result (see kaifa/frame.h). */
int km_raw_next(km_raw *r, struct km_frame *ret_frame);

/* The length of the APDU (with its LLC header, if any) at p: KM_OK and
 * *ret_len, KM_ERR_TRUNCATED when n bytes do not hold it all (or it is
 * malformed in a way only more bytes could tell), KM_ERR_NOT_DLMS when p
 * does not open an APDU, KM_ERR_MALFORMED when it cannot be one. */
km_status km_raw_apdu_length(const uint8_t *p, size_t n, size_t *ret_len);

#ifdef __cplusplus
}
#endif

#endif
