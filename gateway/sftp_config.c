/*
 * sftp_config - sshd fragment, folders and keys for SFTP partners. See
 * sftp_config.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sftp_config.h"

extern char **environ;

struct text {
	char *s;
	size_t len, cap;
	int failed;
};

static void
put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || t->len + (size_t)n + 1 > t->cap) {
		size_t cap = (t->cap ? t->cap * 2 : 1024) + (n > 0 ? (size_t)n : 0);
		char *s = n < 0 ? NULL : realloc(t->s, cap);
		if (s == NULL) {
			t->failed = 1;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static char *
done(struct text *t)
{
	if (t->failed) {
		free(t->s);
		return NULL;
	}
	if (t->s == NULL)
		return strdup("");
	return t->s;
}

char *
sftp_config_fragment(const char *root, partner *const *partners, size_t n)
{
	struct text t = { 0 };
	size_t i, count = 0;

	put(&t,
	    "# SFTP logins of edigate's trading partners, written by\n"
	    "# `edigate sftp-config` from the partner profiles. Do not edit:\n"
	    "# change the profiles and run it again, then reload sshd.\n"
	    "#\n"
	    "# Include it at the end of sshd_config (Match blocks last until\n"
	    "# the end of the file), e.g. `Include %s/sshd_config`.\n",
	    root);
	for (i = 0; i < n; i++) {
		const partner_sftp *s = partners[i]->sftp;
		if (s == NULL || !s->inbound)
			continue;
		count++;
		put(&t, "\n# %s (%s)\n", partners[i]->id, partners[i]->file);
		put(&t, "Match User %s\n", s->user);
		put(&t, "\tChrootDirectory %s/%s\n", root, partners[i]->id);
		/* -d: start in the inbox; -u: uploads readable by edigated's
		 * group, by nobody else; -l: every file operation in the log. */
		put(&t, "\tForceCommand internal-sftp -d /inbox -u 0027 -l INFO\n");
		put(&t, "\tAuthorizedKeysFile %s/.keys/%s\n", root, partners[i]->id);
		put(&t, "\tAuthenticationMethods publickey\n");
		put(&t, "\tPubkeyAuthentication yes\n");
		put(&t, "\tPasswordAuthentication no\n");
		put(&t, "\tKbdInteractiveAuthentication no\n");
		put(&t, "\tAllowTcpForwarding no\n");
		put(&t, "\tAllowStreamLocalForwarding no\n");
		put(&t, "\tAllowAgentForwarding no\n");
		put(&t, "\tX11Forwarding no\n");
		put(&t, "\tPermitTunnel no\n");
		put(&t, "\tPermitTTY no\n");
		put(&t, "\tPermitUserRC no\n");
	}
	if (count == 0)
		put(&t, "\n# No partner profile has <sftp><inbound>.\n");
	else
		/* Ends the last Match so lines after an Include are global. */
		put(&t, "\nMatch all\n");
	return done(&t);
}

char *
sftp_config_authorized_keys(const partner_sftp *s)
{
	struct text t = { 0 };
	size_t i;

	put(&t, "# written by edigate sftp-config; edit the partner profile "
	    "instead\n");
	for (i = 0; i < s->key_count; i++)
		put(&t, "restrict %s\n", s->keys[i]);
	return done(&t);
}

int
sftp_config_check(partner *const *partners, size_t n, char *err,
    size_t errsize)
{
	size_t i, j, len = 0;
	int bad = 0;

	if (errsize)
		err[0] = '\0';
	for (i = 0; i < n; i++) {
		const partner_sftp *s = partners[i]->sftp;
		if (s == NULL || !s->inbound)
			continue;
		if (strcmp(s->user, "root") == 0) {
			bad = 1;
			if (len < errsize)
				len += snprintf(err + len, errsize - len,
				    "%s:%d: sftp inbound: a partner cannot log "
				    "in as root\n", partners[i]->file, s->line);
		}
		for (j = 0; j < i; j++) {
			const partner_sftp *o = partners[j]->sftp;
			if (o == NULL || !o->inbound || strcmp(o->user, s->user))
				continue;
			bad = 1;
			if (len < errsize)
				len += snprintf(err + len, errsize - len,
				    "%s:%d: sftp inbound: login %s is already "
				    "used by %s\n", partners[i]->file, s->line,
				    s->user, partners[j]->file);
		}
	}
	return bad ? -1 : 0;
}

int
sftp_config_write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[4096], dir[4096];
	size_t len = strlen(text), off = 0;
	int fd, saved;
	char *slash;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid())
	    >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/* mkdir -p for the last component only; the parent must exist. Refuses a
 * symlink in the place of the folder: sshd would follow it out of ROOT. */
static int
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid, int do_chown,
    char *err, size_t errsize)
{
	struct stat sb;

	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errsize, "%s: exists and is not a folder", path);
		return -1;
	}
	if (do_chown && lchown(path, uid, gid) != 0) {
		snprintf(err, errsize, "%s: chown: %s", path, strerror(errno));
		return -1;
	}
	/* chmod after chown: chown clears the setgid bit. */
	if (chmod(path, mode) != 0) {
		snprintf(err, errsize, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
create_user(const char *user, char *err, size_t errsize)
{
	char *argv[] = { "useradd", "--system", "--no-create-home",
	    "--home-dir", "/", "--shell", "/usr/sbin/nologin",
	    /* "*": no password, but not locked ("!"), which with UsePAM no
	     * would refuse key logins too. */
	    "--password", "*", (char *)user, NULL };
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, "useradd", NULL, NULL, argv, environ) != 0) {
		snprintf(err, errsize, "useradd %s: cannot run it", user);
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errsize, "useradd %s: %s", user,
			    strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errsize, "useradd %s failed (status %d)", user,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

int
sftp_config_tree(const char *root, const partner *p,
    const struct sftp_config_tree_options *opt, char *err, size_t errsize)
{
	const partner_sftp *s = p->sftp;
	char path[4096];
	struct passwd *pw;
	uid_t uid = 0;
	char *keys;
	int rc;

	if (s == NULL || !s->inbound)
		return 0;
	pw = getpwnam(s->user);
	if (pw == NULL && opt->create_users) {
		if (create_user(s->user, err, errsize) != 0)
			return -1;
		pw = getpwnam(s->user);
	}
	if (pw == NULL && opt->chown) {
		snprintf(err, errsize, "%s:%d: login %s does not exist: create it "
		    "(useradd --system --no-create-home --home-dir / --shell "
		    "/usr/sbin/nologin --password '*' %s) or run with "
		    "--create-users", p->file, s->line, s->user, s->user);
		return -1;
	}
	if (pw)
		uid = pw->pw_uid;
	if (make_dir(root, 0755, 0, 0, opt->chown, err, errsize) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/.keys", root);
	if (make_dir(path, 0755, 0, 0, opt->chown, err, errsize) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", root, p->id);
	if (make_dir(path, 0755, 0, 0, opt->chown, err, errsize) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/inbox", root, p->id);
	if (make_dir(path, 02770, uid, opt->group, opt->chown, err, errsize))
		return -1;
	snprintf(path, sizeof(path), "%s/%s/outbox", root, p->id);
	if (make_dir(path, 02770, uid, opt->group, opt->chown, err, errsize))
		return -1;
	keys = sftp_config_authorized_keys(s);
	if (keys == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/.keys/%s", root, p->id);
	rc = sftp_config_write_file(path, keys, 0644);
	free(keys);
	if (rc != 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
profile_name(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 5 || strcmp(name + n - 4, ".xml") != 0 || n - 4 > 64)
		return 0;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return 0;
	for (i = 0; i < n - 4; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		    name[i] == '-'))
			return 0;
	return 1;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
append(char **errors, const char *text)
{
	size_t have = *errors ? strlen(*errors) : 0, add = strlen(text);
	char *e = realloc(*errors, have + add + 1);

	if (e == NULL)
		return;
	memcpy(e + have, text, add + 1);
	*errors = e;
}

int
sftp_config_load_partners(const char *dir, partner ***partners, size_t *n,
    char **errors)
{
	char xsd[4096], path[4096];
	char **names = NULL;
	size_t count = 0, i;
	struct dirent *de;
	DIR *d;

	*partners = NULL;
	*n = 0;
	*errors = NULL;
	d = opendir(dir);
	if (d == NULL) {
		snprintf(path, sizeof(path), "%s:0: %s\n", dir, strerror(errno));
		append(errors, path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!profile_name(de->d_name))
			continue;
		char **nn = realloc(names, (count + 1) * sizeof(*nn));
		if (nn == NULL || (nn[count] = strdup(de->d_name)) == NULL) {
			free(nn ? nn : names);
			closedir(d);
			return -1;
		}
		names = nn;
		count++;
	}
	closedir(d);
	if (count > 1)
		qsort(names, count, sizeof(*names), by_name);
	snprintf(xsd, sizeof(xsd), "%s/partner.xsd", dir);
	if (access(xsd, R_OK) != 0)
		snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd",
		    EDIGATE_DATADIR);
	*partners = calloc(count ? count : 1, sizeof(**partners));
	for (i = 0; i < count; i++) {
		char *err = NULL;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		partner *p = *partners ? partner_load(xsd, NULL, path, &err) : NULL;
		if (p)
			(*partners)[(*n)++] = p;
		else
			append(errors, err ? err : "invalid partner profile\n");
		free(err);
		free(names[i]);
	}
	free(names);
	return *partners ? 0 : -1;
}

void
sftp_config_free_partners(partner **partners, size_t n)
{
	for (size_t i = 0; i < n; i++)
		partner_free(partners[i]);
	free(partners);
}
