/*
 * sftp_config - what OpenSSH's sshd needs to take uploads from partners:
 * the sshd_config fragment, the per-partner folder tree and the
 * authorized keys, all derived from the partner profiles
 * (<transport><sftp><inbound>). `edigate sftp-config` drives it.
 *
 * LAYOUT under ROOT (sshd's ChrootDirectory rules, sshd_config(5)):
 *   ROOT/                  root:root 0755
 *   ROOT/.keys/ID          root:root 0644, the partner's public keys, each
 *                          with the "restrict" option (no forwarding, no
 *                          pty, no user rc) as a second line of defence
 *   ROOT/ID/               root:root 0755, the partner's chroot
 *   ROOT/ID/inbox/         USER:GROUP 2770, the partner uploads here
 *   ROOT/ID/outbox/        USER:GROUP 2770, edigated writes acks and
 *                          outbound documents here for the partner
 *   GROUP is edigated's group, so the daemon can read and remove uploads
 *   without running as the partner. Partner ids ([a-z0-9][a-z0-9_-]*)
 *   never start with ".", so ".keys" can never be a chroot.
 *
 * INVARIANTS
 *   - Every Match block forces internal-sftp, key authentication only,
 *     and refuses forwarding, tunnels, X11 and terminals.
 *   - Files are written to a temporary name, fsynced and renamed, so sshd
 *     never reads half a fragment or half a key file.
 *   - Two partners never share a login (refused with both file names).
 *
 * NEVER
 *   Edits the system's sshd_config or restarts sshd; removes folders or
 *   files of partners that disappeared from the profiles (their uploads
 *   may still be waiting).
 */
#ifndef EDIGATE_SFTP_CONFIG_H
#define EDIGATE_SFTP_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include "partner.h"

/* The sshd_config fragment for the partners that have <sftp><inbound>
 * (others are skipped). malloc'd; NULL when out of memory. */
char *sftp_config_fragment(const char *root, partner *const *partners,
    size_t n);

/* The authorized_keys text of one partner. malloc'd. */
char *sftp_config_authorized_keys(const partner_sftp *s);

/*
 * Checks the set of partners before anything is written: a login used by
 * two partners, or "root", is an error. Writes "file:line: message" lines
 * into err (size errsize). 0 when fine.
 */
int sftp_config_check(partner *const *partners, size_t n, char *err,
    size_t errsize);

struct sftp_config_tree_options {
	gid_t group;          /* owner group of inbox/ and outbox/ */
	int chown;            /* 0: leave owners alone (not root) */
	int create_users;     /* run useradd for a missing login */
};

/* Creates (or repairs the modes of) the tree of one partner and writes its
 * key file. 0, or -1 with a message in err. */
int sftp_config_tree(const char *root, const partner *p,
    const struct sftp_config_tree_options *opt, char *err, size_t errsize);

/*
 * Loads every profile DIR/<id>.xml (names with another dot, such as map
 * overrides "acme.850.xml", are not profiles) against DIR/partner.xsd, or
 * the installed partner.xsd when DIR has none. Sorted by file name.
 * *partners is malloc'd (sftp_config_free_partners). Problems go into
 * *errors (malloc'd "file:line: message" lines, or NULL); the profiles
 * that loaded are returned even then. 0, or -1 when DIR cannot be read.
 */
int sftp_config_load_partners(const char *dir, partner ***partners,
    size_t *n, char **errors);
void sftp_config_free_partners(partner **partners, size_t n);

/* Writes text to path through a temporary file, fsync and rename, with the
 * given mode. 0, or -1 with errno set. */
int sftp_config_write_file(const char *path, const char *text, mode_t mode);

#endif
