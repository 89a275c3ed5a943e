/*
 * edigate - the command line front of the gateway.
 *
 * Dispatches to one function per subcommand (commands.h). Owns nothing but
 * the table below and the top-level usage text.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "dump", cmd_dump, "print every segment as a JSON array, one per line" },
	{ "validate", cmd_validate, "check interchange envelopes; exit 1 if any is invalid" },
	{ "store", cmd_store, "apply schema migrations, show what the store holds" },
	{ "audit", cmd_audit, "verify the audit chain, export events for an auditor" },
	{ "translate", cmd_translate, "EDI to canonical JSON, one document per line" },
	{ "map", cmd_map, "map check FILE...: check map and override files" },
	{ "partner", cmd_partner, "partner check FILE...: check partner profiles" },
	{ "rewrite", cmd_rewrite, "write interchanges again with other delimiters" },
	{ "send", cmd_send, "send --partner ID FILE: queue FILE for AS2 delivery" },
	{ "receive", cmd_receive, "receive --partner ID FILE...: the inbound path without a network" },
	{ "resend", cmd_resend, "resend ID: put a failed AS2 message back in the queue" },
	{ "ack", cmd_ack, "print the TA1/997/999/CONTRL for a file; --read parses one" },
	{ "ack-track", cmd_ack_track, "record expected acks, reconcile inbound ones, duplicates" },
	{ "report", cmd_report, "report acks: ack compliance per partner (csv, json, html)" },
	{ "sftp-config", cmd_sftp_config, "sshd config, folders and keys for SFTP partners" },
	{ "sftp-push", cmd_sftp_push, "upload a file to a partner's SFTP server" },
	{ "sftp-pull", cmd_sftp_pull, "fetch a partner's files from its SFTP server once" },
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: edigate COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(out, "\nedigate COMMAND --help shows a command's options.\n");
}

const char *
cli_default_dir(const char *given, const char *env_name, const char *probe,
    const char *local, const char *installed)
{
	const char *env = getenv(env_name);

	if (given)
		return given;
	if (env && *env)
		return env;
	if (access(probe, R_OK) == 0)
		return local;
	return installed;
}

const char *
cli_maps_dir(const char *given)
{
	return cli_default_dir(given, "EDIGATE_MAPS", "maps/map.xsd", "maps",
	    EDIGATE_DATADIR "/maps");
}

const char *
cli_partners_dir(const char *given)
{
	return cli_default_dir(given, "EDIGATE_PARTNERS",
	    "partners/partner.xsd", "partners", EDIGATE_DATADIR "/partners");
}

int
cli_partner_id_ok(const char *id)
{
	size_t n = 0;

	for (; *id; id++, n++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9') ||
		    *id == '-' || *id == '_'))
			return 0;
	return n > 0 && n <= 64;
}

int
cli_feed_file(const char *path, edi_reader *reader)
{
	static char buf[1 << 20];
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "edigate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "edigate: %s: %s\n", path,
			    strerror(errno));
			if (fd != STDIN_FILENO)
				close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (edi_reader_feed(reader, buf, (size_t)n) == EDI_ERR_STOPPED)
			break;
	}
	edi_reader_finish(reader);
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

void
cli_print_reader_error(const char *path, const edi_error *e)
{
	fprintf(stderr, "%s:%llu:%llu: %s%s %s\n", path,
	    (unsigned long long)e->line, (unsigned long long)e->segment_index,
	    edi_error_code_name(e->code),
	    e->severity == EDI_SEVERITY_WARNING ? " (warning)" : "",
	    e->message);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("edigate %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "edigate: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
