/*
 * stubscan: stands in for oscap in the cemscan benchmarks.
 *
 * The daemon runs it as it runs oscap:
 *     stubscan xccdf eval --progress --profile P --results-arf PATH CONTENT
 * What it does comes from the file named by $OSCAP_BENCH_CONTROL (the daemon
 * passes OSCAP_* variables on to its scanner), one key=value a line:
 *     arf=SOURCE      copy this file to PATH (default: no ARF at all)
 *     seconds=S       take S seconds (default 0)
 *     lines=N         print N "rule_id:pass" progress lines, spread over S
 *     stamp=FILE      append the exit time (CLOCK_REALTIME, ns) to FILE
 *     exit=CODE       exit code (default 2, as oscap with a failed rule)
 * The control file is read at every start, so one daemon can run
 * different scans.  No interpreter starts: a scan that "takes no time"
 * costs a fork and an exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sleep_until(const struct timespec *t) {
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR) {
    }
}

static int copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    struct stat st;
    if (fstat(in, &st) < 0) return -1;
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n <= 0) {  /* fall back to read/write */
            static char buf[1 << 20];
            ssize_t r = read(in, buf, sizeof buf);
            if (r <= 0) break;
            if (write(out, buf, (size_t)r) != r) break;
            n = r;
        }
        left -= n;
    }
    close(in);
    return close(out);
}

int main(int argc, char **argv) {
    const char *arf_out = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--results-arf") == 0) arf_out = argv[i + 1];
    char arf_in[4096] = "", stamp[4096] = "";
    double seconds = 0;
    long lines = 0;
    int code = 2;
    const char *control = getenv("OSCAP_BENCH_CONTROL");
    FILE *f = control ? fopen(control, "r") : NULL;
    if (f) {
        char line[4000];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (strncmp(line, "arf=", 4) == 0) snprintf(arf_in, sizeof arf_in, "%s", line + 4);
            else if (strncmp(line, "seconds=", 8) == 0) seconds = atof(line + 8);
            else if (strncmp(line, "lines=", 6) == 0) lines = atol(line + 6);
            else if (strncmp(line, "stamp=", 6) == 0) snprintf(stamp, sizeof stamp, "%s", line + 6);
            else if (strncmp(line, "exit=", 5) == 0) code = atoi(line + 5);
        }
        fclose(f);
    }
    if (lines > 10000000) lines = 10000000;
    struct timespec start, t;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < lines; i++) {
        double at = seconds * (double)(i + 1) / (double)lines;
        t.tv_sec = start.tv_sec + (time_t)at;
        t.tv_nsec = start.tv_nsec + (long)((at - (double)(time_t)at) * 1e9);
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        sleep_until(&t);
        char out[128];
        int n = snprintf(out, sizeof out, "xccdf_io.cemscan.bench_rule_r%05ld:pass\n", i);
        if (write(1, out, (size_t)n) < 0) break;
    }
    if (lines == 0 && seconds > 0) {
        t.tv_sec = start.tv_sec + (time_t)seconds;
        t.tv_nsec = start.tv_nsec + (long)((seconds - (double)(time_t)seconds) * 1e9);
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        sleep_until(&t);
    }
    if (arf_out && arf_in[0] && copy_file(arf_in, arf_out) != 0) {
        fprintf(stderr, "stubscan: cannot copy %s to %s: %s\n", arf_in, arf_out, strerror(errno));
        return 1;
    }
    if (stamp[0]) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        FILE *s = fopen(stamp, "a");
        if (s) {
            fprintf(s, "%lld%09ld\n", (long long)now.tv_sec, now.tv_nsec);
            fclose(s);
        }
    }
    return code;
}
