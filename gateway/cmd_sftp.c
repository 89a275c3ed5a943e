/*
 * cmd_sftp - `edigate sftp-config`: the sshd configuration, folders and
 * authorized keys for partners that upload by SFTP (sftp_config.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "sftp_config.h"

static void
config_usage(FILE *out)
{
	fprintf(out,
	    "usage: edigate sftp-config --partners DIR --root DIR [--out FILE]\n"
	    "                           [--group GROUP] [--create-users]\n"
	    "  --partners DIR   partner profiles (DIR/<id>.xml)\n"
	    "  --root DIR       where the partners' chroots live (root-owned)\n"
	    "  --out FILE       the sshd_config fragment (default: stdout)\n"
	    "  --group GROUP    group of inbox/ and outbox/: edigated's group\n"
	    "                   (default: the caller's group)\n"
	    "  --create-users   create missing partner logins with useradd\n");
}

int
cmd_sftp_config(int argc, char **argv)
{
	const char *pdir = NULL, *root = NULL, *out = NULL, *group = NULL;
	struct sftp_config_tree_options opt = { 0 };
	partner **partners = NULL;
	size_t n = 0, i;
	char *errors = NULL, err[4096], *text;
	int rc = 0;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--partners") == 0 && i + 1 < (size_t)argc)
			pdir = argv[++i];
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < (size_t)argc)
			root = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < (size_t)argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--group") == 0 && i + 1 < (size_t)argc)
			group = argv[++i];
		else if (strcmp(argv[i], "--create-users") == 0)
			opt.create_users = 1;
		else if (strcmp(argv[i], "--help") == 0) {
			config_usage(stdout);
			return 0;
		} else {
			config_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (pdir == NULL || root == NULL) {
		config_usage(stderr);
		return EXIT_USAGE;
	}
	if (root[0] != '/') {
		fprintf(stderr, "edigate: --root must be an absolute path "
		    "(sshd's ChrootDirectory needs one)\n");
		return EXIT_USAGE;
	}
	opt.chown = geteuid() == 0;
	opt.group = getegid();
	if (group) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			fprintf(stderr, "edigate: no group %s\n", group);
			return EXIT_USAGE;
		}
		opt.group = gr->gr_gid;
	}
	if (!opt.chown)
		fprintf(stderr, "edigate: not root: folders keep their owners; "
		    "sshd needs ROOT and every chroot owned by root\n");
	if (sftp_config_load_partners(pdir, &partners, &n, &errors) != 0) {
		fputs(errors ? errors : "edigate: cannot read the profiles\n",
		    stderr);
		free(errors);
		return EXIT_USAGE;
	}
	if (errors) {
		/* A broken profile must not silently lose its partner's
		 * login: nothing is written. */
		fputs(errors, stderr);
		free(errors);
		sftp_config_free_partners(partners, n);
		return EXIT_INVALID;
	}
	if (sftp_config_check(partners, n, err, sizeof(err)) != 0) {
		fputs(err, stderr);
		sftp_config_free_partners(partners, n);
		return EXIT_INVALID;
	}
	for (i = 0; i < n; i++)
		if (sftp_config_tree(root, partners[i], &opt, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "edigate: %s\n", err);
			rc = EXIT_INVALID;
		}
	text = rc == 0 ? sftp_config_fragment(root, partners, n) : NULL;
	if (rc == 0 && text == NULL) {
		fprintf(stderr, "edigate: out of memory\n");
		rc = EXIT_USAGE;
	} else if (text && out) {
		if (sftp_config_write_file(out, text, 0644) != 0) {
			fprintf(stderr, "edigate: %s: %s\n", out,
			    strerror(errno));
			rc = EXIT_USAGE;
		}
	} else if (text) {
		fputs(text, stdout);
	}
	free(text);
	sftp_config_free_partners(partners, n);
	return rc;
}
