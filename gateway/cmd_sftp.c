/*
 * cmd_sftp - `edigate sftp-config`: the sshd configuration, folders and
 * authorized keys for partners that upload by SFTP (sftp_config.h);
 * `edigate sftp-push` and `sftp-pull`: the libssh2 client (sftp_client.h)
 * by hand, for a first test with a new partner and for scripts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "sftp_client.h"
#include "sftp_config.h"
#include "store.h"

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

/* ---- sftp-push, sftp-pull: the client by hand and for scripts ---------- */

static partner *
load_one(const char *dir, const char *id)
{
	char xsd[4096], path[4096];
	char *err = NULL;
	partner *p;

	snprintf(xsd, sizeof(xsd), "%s/partner.xsd", dir);
	if (access(xsd, R_OK) != 0)
		snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd",
		    EDIGATE_DATADIR);
	snprintf(path, sizeof(path), "%s/%s.xml", dir, id);
	p = partner_load(xsd, NULL, path, &err);
	if (p == NULL)
		fputs(err ? err : "edigate: invalid partner profile\n", stderr);
	free(err);
	return p;
}

int
cmd_sftp_push(int argc, char **argv)
{
	const char *pdir = NULL, *id = NULL, *name = NULL, *file = NULL;
	unsigned attempts = 5, delay_ms = 1000;
	struct sftp_client_error err;
	partner *p;
	int i, fd, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			pdir = argv[++i];
		else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--attempts") == 0 && i + 1 < argc)
			attempts = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && file == NULL)
			file = argv[i];
		else
			file = NULL, i = argc + 1;
	}
	if (pdir == NULL || id == NULL || file == NULL || i > argc) {
		fprintf(stderr, "usage: edigate sftp-push --partners DIR --partner ID "
		    "[--name NAME] [--attempts N] [--delay-ms MS] FILE\n");
		return EXIT_USAGE;
	}
	if (name == NULL) {
		name = strrchr(file, '/');
		name = name ? name + 1 : file;
	}
	if ((p = load_one(pdir, id)) == NULL)
		return EXIT_USAGE;
	if (p->sftp == NULL || p->sftp->push == NULL) {
		fprintf(stderr, "edigate: %s has no <sftp><push>\n", p->file);
		partner_free(p);
		return EXIT_USAGE;
	}
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "edigate: %s: %s\n", file, strerror(errno));
		partner_free(p);
		return EXIT_USAGE;
	}
	rc = sftp_client_push_retry(p->sftp->push, fd, name, attempts, delay_ms,
	    NULL, &err);
	close(fd);
	if (rc != 0)
		fprintf(stderr, "edigate: push to %s failed: %s\n", id, err.message);
	partner_free(p);
	return rc == 0 ? 0 : EXIT_INVALID;
}

int
cmd_sftp_pull(int argc, char **argv)
{
	const char *pdir = NULL, *id = NULL, *url = getenv("EDIGATE_STORE");
	const char *spool = NULL;
	struct store_options opts = { 0 };
	struct store_error serr;
	struct sftp_client_error err;
	struct sftp_pull_result res;
	struct store *st;
	partner *p;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			pdir = argv[++i];
		else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc)
			spool = argv[++i];
		else
			break;
	}
	if (pdir == NULL || id == NULL || url == NULL || i != argc) {
		fprintf(stderr, "usage: edigate sftp-pull --partners DIR --partner ID "
		    "--store URL|PATH [--spool DIR]\n");
		return EXIT_USAGE;
	}
	if ((p = load_one(pdir, id)) == NULL)
		return EXIT_USAGE;
	if (p->sftp == NULL || p->sftp->pull == NULL) {
		fprintf(stderr, "edigate: %s has no <sftp><pull>\n", p->file);
		partner_free(p);
		return EXIT_USAGE;
	}
	opts.spool_dir = spool;
	if (store_open(&st, url, &opts, &serr) != STORE_OK) {
		fprintf(stderr, "edigate: cannot open the store: %s\n",
		    serr.message);
		partner_free(p);
		return EXIT_USAGE;
	}
	rc = sftp_client_pull(p->sftp->pull, p->id, st, &res, &err);
	printf("listed %u, stored %u, already stored %u, failed %u\n",
	    res.listed, res.stored, res.duplicates, res.failed);
	if (rc != 0)
		fprintf(stderr, "edigate: pull from %s: %s\n", id, err.message);
	store_close(st);
	partner_free(p);
	return rc == 0 && res.failed == 0 ? 0 : EXIT_INVALID;
}
