/*
 * fuzz_replay: runs the libFuzzer entry point of fuzz_decoder.c over files,
 * without libFuzzer, so the seed corpus and every kept crasher are replayed
 * by ctest in each build (plain, and the ASan+UBSan one).
 *
 * Arguments are files or directories (their regular files, sorted; dot files
 * and README* are skipped). A failed check aborts; an unreadable argument
 * exits 66; no input at all exits 1, so an empty corpus cannot pass.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1u << 20)

static uint8_t input[REPLAY_MAX_INPUT];

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t n = fread(input, 1, sizeof(input), f);
        int err = ferror(f);
        fclose(f);
        if (err) {
                fprintf(stderr, "fuzz_replay: %s: read error\n", path);
                return -1;
        }
        fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", path, n);
        LLVMFuzzerTestOneInput(input, n);
        return 0;
}

static int wanted(const struct dirent *e)
{
        return e->d_name[0] != '.' && strncmp(e->d_name, "README", 6) != 0;
}

/* Replays the regular files of dir; returns how many, or -1. */
static int replay_dir(const char *dir)
{
        struct dirent **names;
        int n = scandir(dir, &names, wanted, alphasort);
        if (n < 0) {
                fprintf(stderr, "fuzz_replay: %s: %s\n", dir, strerror(errno));
                return -1;
        }
        int count = 0, r = 0;
        for (int i = 0; i < n; i++) {
                char path[4096];
                struct stat st;
                int w = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
                if (r == 0 && w > 0 && (size_t)w < sizeof(path) && stat(path, &st) == 0 &&
                    S_ISREG(st.st_mode)) {
                        r = replay_file(path);
                        count++;
                }
                free(names[i]);
        }
        free(names);
        return r < 0 ? -1 : count;
}

int main(int argc, char **argv)
{
        int total = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno));
                        return EX_NOINPUT;
                }
                int n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) == 0;
                if (n < 0)
                        return EX_NOINPUT;
                printf("fuzz_replay: %d inputs from %s\n", n, argv[i]);
                total += n;
        }
        if (total == 0) {
                fprintf(stderr, "fuzz_replay: no input replayed\n");
                return 1;
        }
        printf("fuzz_replay: %d inputs replayed, no check failed\n", total);
        return 0;
}
