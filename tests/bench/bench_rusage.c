/*
 * bench_rusage - runs a command and reports its peak memory and wall time.
 *
 * USAGE
 *   bench_rusage OUTFILE COMMAND [ARG...]
 *   Runs COMMAND as a child (its standard streams are inherited) and
 *   writes "maxrss_kib=N seconds=S status=N" to OUTFILE. The exit status is
 *   the child's (128 + signal when it was killed).
 *
 * WHY
 *   The peak resident set size of the process that did the work, as the
 *   kernel counted it (getrusage ru_maxrss of the child), is the figure
 *   behind "memory stays flat". GNU time would give it too, but is not on
 *   every machine.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int status, code;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_rusage OUTFILE COMMAND [ARG...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid < 0) {
		perror("bench_rusage: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "bench_rusage: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("bench_rusage: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	out = fopen(argv[1], "w");
	if (out == NULL) {
		perror(argv[1]);
		return 2;
	}
	fprintf(out, "maxrss_kib=%ld seconds=%.6f status=%d\n", ru.ru_maxrss,
	    (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
	    code);
	if (fclose(out) != 0) {
		perror(argv[1]);
		return 2;
	}
	return code;
}
