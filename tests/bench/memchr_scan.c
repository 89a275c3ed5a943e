/*
 * memchr_scan - the reference the reader's speed is measured against.
 *
 * USAGE
 *   memchr_scan FILE CHAR
 *   Reads FILE in 1 MiB chunks with read(2) and counts the bytes equal to
 *   CHAR (a segment terminator) with memchr(3). Prints
 *   "bytes=N count=N seconds=S" on standard output.
 *
 * WHY
 *   No tokenizer can beat finding its terminators with the C library's
 *   vectorised memchr, so "fraction of memchr" is a figure that means the
 *   same on any machine. The I/O is the same as bench_reader's, so the
 *   ratio compares the parsing alone.
 *
 * NEVER
 *   Maps the file or reads it in larger pieces than bench_reader does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCAN_CHUNK (1u << 20)

static double
scan_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static char buf[SCAN_CHUNK];
	uint64_t bytes = 0, count = 0;
	double start;
	ssize_t n;
	int fd, c;

	if (argc != 3 || strlen(argv[2]) != 1) {
		fprintf(stderr, "usage: memchr_scan FILE CHAR\n");
		return 2;
	}
	c = (unsigned char)argv[2][0];
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "memchr_scan: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	start = scan_now();
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		const char *p = buf, *end;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "memchr_scan: read: %s\n", strerror(errno));
			return 2;
		}
		end = buf + n;
		while ((p = memchr(p, c, (size_t)(end - p))) != NULL) {
			count++;
			p++;
		}
		bytes += (uint64_t)n;
	}
	printf("bytes=%llu count=%llu seconds=%.6f\n", (unsigned long long)bytes,
	    (unsigned long long)count, scan_now() - start);
	close(fd);
	return 0;
}
