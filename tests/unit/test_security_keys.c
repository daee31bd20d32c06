/*
 * Key input (src/security/keyring.c): 32 hex digits with spaces, key files
 * with EK=/AK= lines and FILE:LINE errors, systemd credentials, and the
 * keyring's look-up by system title. Every error message is checked to say
 * something and to hold no run of the key's digits. Also the replay window,
 * the failure messages and their rate limit (report.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_util.h"

#include "security/keyring.h"
#include "security/report.h"

#define EK_HEX "39436F513777354C4D466F4C5333674A"
#define AK_HEX "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"

/* No 6 consecutive digits of either key (in either case) in a message. */
static void assert_no_key_in(const char *msg)
{
        static const char *keys[] = {EK_HEX, AK_HEX, "39436f513777354c4d466f4c5333674a"};
        assert_true(strlen(msg) > 10);
        assert_null(strchr(msg, '\n'));
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                for (size_t i = 0; i + 6 <= strlen(keys[k]); i++) {
                        char run[7];
                        memcpy(run, keys[k] + i, 6);
                        run[6] = '\0';
                        if (strstr(msg, run))
                                fail_msg("message quotes key digits: %s", msg);
                }
        }
}

static void assert_key_hex(const uint8_t k[16], const char *hex)
{
        uint8_t want[16];
        assert_int_equal(hex_to_bytes(hex, want, 16), 16);
        assert_memory_equal(k, want, 16);
}

static void test_parse_hex(void **state)
{
        (void)state;
        uint8_t k[16];
        char err[200];
        assert_int_equal(km_key_parse_hex(EK_HEX, k, err, sizeof(err)), 0);
        assert_key_hex(k, EK_HEX);
        assert_int_equal(km_key_parse_hex("39 43 6F 51 37 77 35 4C 4D 46 6F 4C 53 33 67 4A", k, err, sizeof(err)), 0);
        assert_key_hex(k, EK_HEX);
        assert_int_equal(km_key_parse_hex("  39436f513777354c\t4d466f4c5333674a\n", k, err, sizeof(err)), 0);
        assert_key_hex(k, EK_HEX);
        /* too short, too long, a bad character, empty: -EINVAL, k untouched */
        static const char *bad[] = {
                "39436F513777354C4D466F4C5333674",     /* 31 */
                "39436F513777354C4D466F4C5333674A0",   /* 33 */
                "39436F513777354C4D466F4C5333674G",    /* G */
                "0x39436F513777354C4D466F4C5333674A",  /* 0x */
                "39:43:6F:51:37:77:35:4C:4D:46:6F:4C:53:33:67:4A",
                "",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(k, 0xEE, sizeof(k));
                err[0] = '\0';
                assert_int_equal(km_key_parse_hex(bad[i], k, err, sizeof(err)), -EINVAL);
                assert_no_key_in(err);
                for (size_t b = 0; b < 16; b++)
                        assert_int_equal(k[b], 0xEE);
        }
        assert_int_equal(km_key_parse_hex("39436F513777354C4D466F4C5333674", k, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "32 hex digits"));
        assert_non_null(strstr(err, "31"));
        assert_int_equal(km_key_parse_hex("39436F513777354C4D466F4C5333674G", k, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "character 32"));
}

static void test_key_text(void **state)
{
        (void)state;
        km_key k;
        char err[300];
        assert_int_equal(km_key_text_load("t", "# keys from the grid company\nEK=" EK_HEX "\nAK = " AK_HEX "\n", &k,
                                          err, sizeof(err)),
                         0);
        assert_true(k.has_ek && k.has_ak);
        assert_key_hex(k.ek, EK_HEX);
        assert_key_hex(k.ak, AK_HEX);
        /* lower case names, CRLF, a key with spaces */
        assert_int_equal(km_key_text_load("t", "ek=39 43 6F 51 37 77 35 4C 4D 46 6F 4C 53 33 67 4A\r\n", &k, err,
                                          sizeof(err)),
                         0);
        assert_true(k.has_ek && !k.has_ak);
        assert_key_hex(k.ek, EK_HEX);
        /* a bare key */
        assert_int_equal(km_key_text_load("t", EK_HEX "\n", &k, err, sizeof(err)), 0);
        assert_key_hex(k.ek, EK_HEX);
        /* bad hex on line 3: FILE:LINE */
        assert_int_equal(km_key_text_load("/etc/kaifa-meter/key", "# c\nEK=" EK_HEX "\nAK=C0C1C2C3C4C5C6C7C8C9CACBCCCDCEXF\n",
                                          &k, err, sizeof(err)),
                         -EINVAL);
        assert_true(strncmp(err, "/etc/kaifa-meter/key:3: ", 24) == 0);
        assert_no_key_in(err);
        /* an unknown name */
        assert_int_equal(km_key_text_load("f", "GUEK=" EK_HEX "\n", &k, err, sizeof(err)), -EINVAL);
        assert_true(strncmp(err, "f:1: ", 5) == 0);
        assert_no_key_in(err);
        /* nothing in it */
        assert_int_equal(km_key_text_load("f", "# nothing\n\n", &k, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "no key"));
        /* a bare key and more lines */
        assert_int_equal(km_key_text_load("f", EK_HEX "\nAK=" AK_HEX "\n", &k, err, sizeof(err)), -EINVAL);
        assert_no_key_in(err);
        /* a short key */
        assert_int_equal(km_key_text_load("f", "EK=39436F\n", &k, err, sizeof(err)), -EINVAL);
        assert_true(strncmp(err, "f:1: key must be 32 hex digits", 30) == 0);
}

static char *temp_dir(void)
{
        char *dir = strdup("/tmp/km-keys-XXXXXX");
        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void remove_files(char *dir)
{
        static const char *names[] = {"key", "kaifa-meter-key", "kaifa-meter-auth-key", "big"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                unlink(path);
        }
        rmdir(dir);
        free(dir);
}

static void test_key_file(void **state)
{
        (void)state;
        char *dir = temp_dir();
        char path[512], err[600];
        km_key k;
        write_file(dir, "key", "EK=" EK_HEX "\nAK=" AK_HEX "\n");
        snprintf(path, sizeof(path), "%s/key", dir);
        assert_int_equal(km_key_file_load(path, &k, err, sizeof(err)), 0);
        assert_key_hex(k.ek, EK_HEX);
        assert_key_hex(k.ak, AK_HEX);
        write_file(dir, "key", "EK=" EK_HEX "\nAK=zz\n");
        assert_int_equal(km_key_file_load(path, &k, err, sizeof(err)), -EINVAL);
        char want[560];
        snprintf(want, sizeof(want), "%s:2: ", path);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        assert_no_key_in(err);
        /* missing file */
        snprintf(path, sizeof(path), "%s/none", dir);
        assert_int_equal(km_key_file_load(path, &k, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "cannot read key file"));
        /* a big file is not a key file */
        char *big = malloc(10000);
        assert_non_null(big);
        memset(big, 'A', 9999);
        big[9999] = '\0';
        write_file(dir, "big", big);
        free(big);
        snprintf(path, sizeof(path), "%s/big", dir);
        assert_int_equal(km_key_file_load(path, &k, err, sizeof(err)), -EFBIG);
        assert_non_null(strstr(err, "not a key file"));
        remove_files(dir);
}

static void test_credentials(void **state)
{
        (void)state;
        char *dir = temp_dir();
        char err[600];
        km_key k;
        bool found;
        memset(&k, 0, sizeof(k));
        /* none there */
        assert_int_equal(km_key_credentials_load(dir, &k, &found, err, sizeof(err)), 0);
        assert_false(found);
        assert_int_equal(km_key_credentials_load(NULL, &k, &found, err, sizeof(err)), 0);
        assert_false(found);
        /* the key only */
        write_file(dir, KM_CREDENTIAL_KEY, EK_HEX "\n");
        assert_int_equal(km_key_credentials_load(dir, &k, &found, err, sizeof(err)), 0);
        assert_true(found && k.has_ek && !k.has_ak);
        assert_key_hex(k.ek, EK_HEX);
        /* both */
        write_file(dir, KM_CREDENTIAL_AUTH_KEY, AK_HEX);
        memset(&k, 0, sizeof(k));
        assert_int_equal(km_key_credentials_load(dir, &k, &found, err, sizeof(err)), 0);
        assert_true(found && k.has_ek && k.has_ak);
        assert_key_hex(k.ak, AK_HEX);
        /* a bad one: the credential's path and the reason, no digits */
        write_file(dir, KM_CREDENTIAL_AUTH_KEY, AK_HEX "00");
        assert_int_equal(km_key_credentials_load(dir, &k, &found, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, KM_CREDENTIAL_AUTH_KEY));
        assert_non_null(strstr(err, "not 34"));
        assert_no_key_in(err);
        remove_files(dir);
}

static void test_keyring(void **state)
{
        (void)state;
        km_keyring kr;
        km_keyring_init(&kr);
        assert_true(km_keyring_empty(&kr));
        assert_null(km_keyring_find(&kr, NULL));
        km_key a, b;
        memset(&a, 1, sizeof(a));
        memset(&b, 2, sizeof(b));
        uint8_t t1[8] = "KFM\1\2\3\4\5", t2[8] = "LGZ\1\2\3\4\5";
        assert_int_equal(km_keyring_set(&kr, t1, &a), 0);
        assert_int_equal(km_keyring_find(&kr, t1)->ek[0], 1);
        assert_null(km_keyring_find(&kr, t2));
        assert_int_equal(km_keyring_set(&kr, NULL, &b), 0);
        assert_int_equal(km_keyring_find(&kr, t2)->ek[0], 2); /* the default */
        assert_int_equal(km_keyring_find(&kr, t1)->ek[0], 1); /* its own */
        /* replacing keeps one entry */
        assert_int_equal(km_keyring_set(&kr, t1, &b), 0);
        assert_int_equal(kr.n, 2);
        for (int i = 0; kr.n < KM_KEYRING_MAX; i++) {
                uint8_t t[8] = "ISK\0\0\0\0";
                t[7] = (uint8_t)i;
                assert_int_equal(km_keyring_set(&kr, t, &a), 0);
        }
        uint8_t full[8] = "SAG\0\0\0\0\xFF";
        assert_int_equal(km_keyring_set(&kr, full, &a), -ENOSPC);
        km_keyring_clear(&kr);
        /* cleared means wiped */
        const uint8_t *p = (const uint8_t *)&kr;
        for (size_t i = 0; i < sizeof(kr); i++)
                assert_int_equal(p[i], 0);
}

static void test_replay(void **state)
{
        (void)state;
        km_replay r;
        km_replay_init(&r);
        uint8_t a[8] = "KFM\1\2\3\4\5", b[8] = "LGZ\1\2\3\4\5";
        uint32_t last = 0;
        assert_int_equal(km_replay_check(&r, a, 100, &last), KM_OK);
        assert_int_equal(km_replay_check(&r, a, 101, &last), KM_OK);
        /* the same counter again, and one that goes backwards */
        assert_int_equal(km_replay_check(&r, a, 101, &last), KM_ERR_REPLAY);
        assert_int_equal(last, 101);
        assert_int_equal(km_replay_check(&r, a, 5, &last), KM_ERR_REPLAY);
        /* another meter has its own counter; counter 0 is fine for a new one */
        assert_int_equal(km_replay_check(&r, b, 0, NULL), KM_OK);
        assert_int_equal(km_replay_check(&r, b, 0, NULL), KM_ERR_REPLAY);
        /* a rejected frame does not move the counter */
        assert_int_equal(km_replay_check(&r, a, 102, NULL), KM_OK);
        /* more meters than slots: the least recently seen is forgotten */
        for (uint8_t i = 0; i < KM_REPLAY_MAX; i++) {
                uint8_t t[8] = "ISK\0\0\0\0";
                t[7] = i;
                assert_int_equal(km_replay_check(&r, t, 1, NULL), KM_OK);
        }
        assert_int_equal(r.n, KM_REPLAY_MAX);
        assert_int_equal(km_replay_check(&r, a, 1, NULL), KM_OK); /* a was evicted: a restart */
}

static void test_messages(void **state)
{
        (void)state;
        km_security_info info;
        memset(&info, 0, sizeof(info));
        info.mode = KM_CIPHER_GCM;
        memcpy(info.system_title, "KFM\x10\x20\x02\x98\x02", 8);
        info.invocation_counter = 2600;
        char buf[300];
        km_security_message(KM_ERR_DECRYPT, &info, NULL, buf, sizeof(buf));
        assert_string_equal(buf, "cannot decrypt frames from system title KFM1020029802: wrong key?");
        km_security_message(KM_ERR_NO_KEY, &info, "--key or --key-file", buf, sizeof(buf));
        assert_non_null(strstr(buf, "KFM1020029802"));
        assert_non_null(strstr(buf, "--key or --key-file"));
        km_security_message(KM_ERR_AUTH_FAILED, &info, NULL, buf, sizeof(buf));
        assert_non_null(strstr(buf, "authentication"));
        km_security_message(KM_ERR_REPLAY, &info, NULL, buf, sizeof(buf));
        assert_non_null(strstr(buf, "2600"));
        info.mode = KM_CIPHER_PILOT_ECB;
        km_security_message(KM_ERR_DECRYPT, &info, NULL, buf, sizeof(buf));
        assert_string_equal(buf, "cannot decrypt pilot-encrypted frames: wrong key?");
        km_security_message(KM_ERR_CIPHER_HEADER, NULL, NULL, buf, sizeof(buf));
        assert_non_null(strstr(buf, "security header"));
}

static void test_ratelimit(void **state)
{
        (void)state;
        km_ratelimit rl;
        const uint64_t minute = 60000000;
        km_ratelimit_init(&rl, minute);
        uint8_t a[8] = "KFM\1\2\3\4\5", b[8] = "LGZ\1\2\3\4\5";
        uint64_t held = 99;
        assert_true(km_ratelimit_allow(&rl, a, KM_ERR_DECRYPT, 1000, &held));
        assert_int_equal(held, 0);
        for (int i = 1; i <= 30; i++) /* one frame every 2 s for a minute */
                assert_false(km_ratelimit_allow(&rl, a, KM_ERR_DECRYPT, 1000 + (uint64_t)i * 1999000, NULL));
        /* another meter, or another failure, has its own allowance */
        assert_true(km_ratelimit_allow(&rl, b, KM_ERR_DECRYPT, 2000, NULL));
        assert_true(km_ratelimit_allow(&rl, a, KM_ERR_NO_KEY, 2000, NULL));
        assert_true(km_ratelimit_allow(&rl, a, KM_ERR_DECRYPT, 1000 + minute, &held));
        assert_int_equal(held, 30);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_hex),
                cmocka_unit_test(test_key_text),
                cmocka_unit_test(test_key_file),
                cmocka_unit_test(test_credentials),
                cmocka_unit_test(test_keyring),
                cmocka_unit_test(test_replay),
                cmocka_unit_test(test_messages),
                cmocka_unit_test(test_ratelimit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
