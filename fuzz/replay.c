/*
 * Runs the fuzz target without libFuzzer: every file given on the command
 * line, and every file in every directory given, once, in name order. A
 * violated invariant aborts; each input runs in a child process of its
 * own, so one failing input does not hide the others, and the driver
 * exits non-zero if any failed. This is the regression test for
 * fuzz/corpus and fuzz/crashes in every build, with any compiler.
 *
 * Files whose names start with '.' or "README" are not inputs.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    do {
        if (size == cap) {
            uint8_t *grown;

            cap = cap ? cap * 2 : 4096;
            grown = realloc(data, cap);
            if (grown == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(data);
                fclose(f);
                return -1;
            }
            data = grown;
        }
        n = fread(data + size, 1, cap - size, f);
        size += n;
    } while (n > 0);
    if (ferror(f)) {
        perror(path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Printed first: the target's message follows it in the log. */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    fflush(stderr);
    fflush(stdout);
    {
        pid_t pid = fork();
        int status = 0;

        if (pid == 0) {
            LLVMFuzzerTestOneInput(data, size);
            _exit(0);
        }
        free(data);
        if (pid < 0 || waitpid(pid, &status, 0) != pid) {
            perror("fork");
            return -1;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            return 0;
        fprintf(stderr, "replay: FAILED: %s (%s %d)\n", path,
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return 1;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int failures;

/* Runs one input; counts it, and counts it as failed if it failed. */
static int run_one(const char *path)
{
    int rc = run_file(path);

    if (rc > 0)
        failures++;
    return rc < 0 ? -1 : 1;
}

/* Runs every input in dir, in name order; returns how many, or -1. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int count = 0;

    if (d == NULL) {
        perror(dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        if (n == cap) {
            char **grown;

            cap = cap ? cap * 2 : 64;
            grown = realloc(names, cap * sizeof *names);
            if (grown == NULL)
                break;
            names = grown;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (names[n] == NULL)
            break;
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (count >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            count = run_one(names[i]) < 0 ? -1 : count + 1;
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_one(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    if (failures > 0) {
        printf("replay: %d inputs, %d failed\n", total, failures);
        return 1;
    }
    printf("replay: %d inputs, no invariant violated\n", total);
    return 0;
}
