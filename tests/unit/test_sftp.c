/*
 * test_sftp - the SFTP parts that need no server: file name checks, the
 * upload conventions, partner profile <sftp> errors with file:line, the
 * sshd fragment and key files sftp-config writes, taking a file from an
 * inbox exactly once (a real SQLite store), symbolic links, the outbox
 * writer, and host key fingerprints. The sshd side is in
 * tests/integration/sftp.sh.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "partner.h"
#include "sftp_client.h"
#include "sftp_config.h"
#include "sftp_deliver.h"
#include "sftp_inbox.h"
#include "store.h"

/* ssh-keygen -t ed25519; `ssh-keygen -lf` printed the fingerprint. */
#define KEY_B64 "AAAAC3NzaC1lZDI1NTE5AAAAID/7W/rmWVfQsxL558OglDiKqXEaPOxxCTp16nLfTNVm"
#define KEY_FP "SHA256:DaivdHxBHSBMopv7xzeKXsQ2Os304dgEjuGv2rRHNNU"

static char tmpdir[] = "/tmp/edigate-sftp-unit-XXXXXX";

static const char *
xsd(void)
{
	static char path[4096];
	const char *top = getenv("top_srcdir");
	snprintf(path, sizeof(path), "%s/partners/partner.xsd", top ? top : ".");
	return path;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
read_text(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A profile with the given <sftp> body, written as DIR/ID.xml. */
static char *
profile(const char *id, const char *sftp_body)
{
	static char path[4096];
	char text[8192];
	snprintf(path, sizeof(path), "%s/%s.xml", tmpdir, id);
	snprintf(text, sizeof(text),
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<partner id=\"%s\" name=\"test\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"X\" gs-id=\"XX\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n"
	    "  <transport>\n"
	    "    <sftp>\n%s"
	    "    </sftp>\n"
	    "  </transport>\n"
	    "</partner>\n", id, sftp_body);
	write_text(path, text);
	return path;
}

static partner *
load(const char *path, char **errors)
{
	return partner_load(xsd(), NULL, path, errors);
}

/* ---- names ------------------------------------------------------------ */

static void
test_names_that_are_not_one_plain_component_are_refused(void **state)
{
	char longest[257];
	(void)state;
	assert_false(sftp_inbox_name_ok(""));
	assert_false(sftp_inbox_name_ok("."));
	assert_false(sftp_inbox_name_ok(".."));
	assert_false(sftp_inbox_name_ok("../alpha/inbox/x"));
	assert_false(sftp_inbox_name_ok("/etc/passwd"));
	assert_false(sftp_inbox_name_ok("a/b"));
	assert_false(sftp_inbox_name_ok("po\n1.edi"));
	assert_false(sftp_inbox_name_ok("po\x7f.edi"));
	memset(longest, 'a', 256);
	longest[256] = '\0';
	assert_false(sftp_inbox_name_ok(longest));
	longest[255] = '\0';
	assert_true(sftp_inbox_name_ok(longest));
	assert_true(sftp_inbox_name_ok("PO 4711.edi"));
	assert_true(sftp_inbox_name_ok("..po.edi"));
}

static void
test_temporary_names_follow_the_upload_convention(void **state)
{
	(void)state;
	assert_true(sftp_inbox_name_is_temp(PARTNER_SFTP_RENAME, ".part", "po.edi.part"));
	assert_true(sftp_inbox_name_is_temp(PARTNER_SFTP_RENAME, ".part", ".po.edi"));
	assert_false(sftp_inbox_name_is_temp(PARTNER_SFTP_RENAME, ".part", "po.edi"));
	assert_true(sftp_inbox_name_is_temp(PARTNER_SFTP_RENAME, ".part", ".part"));
	/* close and stable take any name but dot-names */
	assert_false(sftp_inbox_name_is_temp(PARTNER_SFTP_CLOSE, ".part", "po.edi.part"));
	assert_true(sftp_inbox_name_is_temp(PARTNER_SFTP_STABLE, ".part", ".po.edi"));
}

/* ---- profiles ---------------------------------------------------------- */

static void
test_inbound_profile_reads_keys_login_and_convention(void **state)
{
	char *err = NULL;
	(void)state;
	partner *p = load(profile("acme",
	    "      <inbound upload=\"stable\" stable-seconds=\"7\">\n"
	    "        <key>\n          ssh-ed25519 " KEY_B64 " ops@acme\n        </key>\n"
	    "      </inbound>\n"), &err);
	assert_null(err);
	assert_non_null(p);
	assert_non_null(p->sftp);
	assert_true(p->sftp->inbound);
	assert_string_equal(p->sftp->user, "edi-acme");
	assert_int_equal(p->sftp->upload, PARTNER_SFTP_STABLE);
	assert_int_equal(p->sftp->stable_seconds, 7);
	assert_int_equal(p->sftp->key_count, 1);
	assert_string_equal(p->sftp->keys[0], "ssh-ed25519 " KEY_B64 " ops@acme");
	assert_null(p->sftp->push);
	partner_free(p);
}

static void
test_push_with_key_and_password_is_refused_at_its_line(void **state)
{
	char *err = NULL, want[4096];
	(void)state;
	char *path = profile("acme",
	    "      <push host=\"sftp.acme.example\" user=\"edi\" key-file=\"k\" password-file=\"p\">\n"
	    "        <host-key fingerprint=\"" KEY_FP "\"/>\n"
	    "      </push>\n");
	assert_null(load(path, &err));
	assert_non_null(err);
	/* <push> is on line 7 of the generated profile. */
	snprintf(want, sizeof(want), "%s:7: sftp push: give exactly one of "
	    "key-file and password-file\n", path);
	assert_string_equal(err, want);
	free(err);
}

static void
test_pull_move_without_folder_and_half_host_key_are_refused(void **state)
{
	char *err = NULL, want[4096];
	(void)state;
	char *path = profile("acme",
	    "      <pull host=\"h\" user=\"u\" password-file=\"p\" after-download=\"move\">\n"
	    "        <host-key type=\"ssh-ed25519\"/>\n"
	    "      </pull>\n");
	assert_null(load(path, &err));
	assert_non_null(err);
	snprintf(want, sizeof(want),
	    "%s:7: sftp pull: after-download=\"move\" needs move-to (the remote folder fetched files go to)\n"
	    "%s:8: sftp pull host-key: type and base64 go together (as in known_hosts)\n",
	    path, path);
	assert_string_equal(err, want);
	free(err);
}

static void
test_schema_refuses_an_unknown_upload_convention(void **state)
{
	char *err = NULL;
	(void)state;
	assert_null(load(profile("acme",
	    "      <inbound upload=\"whenever\"><key>ssh-ed25519 " KEY_B64 "</key></inbound>\n"), &err));
	assert_non_null(err);
	assert_non_null(strstr(err, ":7: "));
	assert_non_null(strstr(err, "whenever"));
	free(err);
}

/* ---- sftp-config ------------------------------------------------------- */

static void
test_fragment_locks_each_inbound_partner_into_its_chroot(void **state)
{
	char *err = NULL;
	(void)state;
	partner *a = load(profile("acme",
	    "      <inbound user=\"acmeftp\"><key>ssh-ed25519 " KEY_B64 "</key></inbound>\n"), &err);
	assert_non_null(a);
	partner *b = load(profile("beta",
	    "      <push host=\"h\" user=\"u\" password-file=\"p\"><host-key fingerprint=\"" KEY_FP "\"/></push>\n"), &err);
	assert_non_null(b);
	partner *list[] = { a, b };
	char *text = sftp_config_fragment("/srv/edigate/sftp", list, 2);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "Match User acmeftp\n"
	    "\tChrootDirectory /srv/edigate/sftp/acme\n"
	    "\tForceCommand internal-sftp -d /inbox -u 0027 -l INFO\n"
	    "\tAuthorizedKeysFile /srv/edigate/sftp/.keys/acme\n"
	    "\tAuthenticationMethods publickey\n"
	    "\tPubkeyAuthentication yes\n"
	    "\tPasswordAuthentication no\n"
	    "\tKbdInteractiveAuthentication no\n"
	    "\tAllowTcpForwarding no\n"
	    "\tAllowStreamLocalForwarding no\n"
	    "\tAllowAgentForwarding no\n"
	    "\tX11Forwarding no\n"
	    "\tPermitTunnel no\n"
	    "\tPermitTTY no\n"
	    "\tPermitUserRC no\n"));
	/* beta only has a server of its own: no login here */
	assert_null(strstr(text, "beta"));
	size_t n = strlen(text);
	assert_true(n > 11 && strcmp(text + n - 11, "\nMatch all\n") == 0);
	free(text);
	text = sftp_config_authorized_keys(a->sftp);
	assert_non_null(strstr(text, "\nrestrict ssh-ed25519 " KEY_B64 "\n"));
	free(text);
	partner_free(a);
	partner_free(b);
}

static void
test_two_partners_with_one_login_are_refused(void **state)
{
	char *err = NULL, msg[2048], want[4096];
	(void)state;
	partner *a = load(profile("acme",
	    "      <inbound user=\"shared\"><key>ssh-ed25519 " KEY_B64 "</key></inbound>\n"), &err);
	char path_a[4096];
	snprintf(path_a, sizeof(path_a), "%s/acme.xml", tmpdir);
	partner *b = load(profile("beta",
	    "      <inbound user=\"shared\"><key>ssh-ed25519 " KEY_B64 "</key></inbound>\n"), &err);
	assert_non_null(a);
	assert_non_null(b);
	partner *list[] = { a, b };
	assert_int_equal(sftp_config_check(list, 2, msg, sizeof(msg)), -1);
	snprintf(want, sizeof(want), "%s/beta.xml:6: sftp inbound: login shared "
	    "is already used by %s\n", tmpdir, path_a);
	assert_string_equal(msg, want);
	partner_free(a);
	partner_free(b);
}

/* ---- inbox and outbox against a real store ------------------------------ */

struct box {
	char dir[4096];
	struct store *st;
	int inbox;
};

static void
box_open(struct box *b)
{
	char path[4096];
	struct store_error err;
	snprintf(b->dir, sizeof(b->dir), "%s/box", tmpdir);
	mkdir(b->dir, 0755);
	snprintf(path, sizeof(path), "%s/inbox", b->dir);
	mkdir(path, 0755);
	b->inbox = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(b->inbox >= 0);
	snprintf(path, sizeof(path), "%s/store.db", b->dir);
	assert_int_equal(store_open(&b->st, path, NULL, &err), STORE_OK);
}

static void
box_close(struct box *b)
{
	char cmd[4200];
	store_close(b->st);
	close(b->inbox);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	assert_int_equal(system(cmd), 0);
}

static int
exists_in(int dirfd, const char *name)
{
	struct stat sb;
	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
put_file(struct box *b, const char *name, const char *text, time_t mtime)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/inbox/%s", b->dir, name);
	write_text(path, text);
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_ingest_stores_once_then_removes_and_recognises_a_repeat(void **state)
{
	struct box b;
	struct store_message m;
	struct store_error serr;
	char err[512];
	int64_t id = 0, again = 0;
	(void)state;
	box_open(&b);
	put_file(&b, "po1.edi", "ISA*00*~", 1700000000);
	assert_int_equal(sftp_inbox_ingest(b.st, b.inbox, "acme", "po1.edi", &id,
	    err, sizeof(err)), SFTP_INGEST_STORED);
	assert_false(exists_in(b.inbox, "po1.edi"));
	assert_int_equal(store_message_get(b.st, id, &m, &serr), STORE_OK);
	assert_string_equal(m.partner, "acme");
	assert_string_equal(m.transport, "sftp");
	assert_string_equal(m.state, "received");
	assert_int_equal(m.direction, STORE_IN);
	assert_int_equal(m.size, 8);
	/* The same file again (a crash before the unlink): not stored twice. */
	put_file(&b, "po1.edi", "ISA*00*~", 1700000000);
	assert_int_equal(sftp_inbox_ingest(b.st, b.inbox, "acme", "po1.edi", &again,
	    err, sizeof(err)), SFTP_INGEST_DUPLICATE);
	assert_int_equal(again, id);
	assert_false(exists_in(b.inbox, "po1.edi"));
	/* The same bytes uploaded later are a new upload. */
	put_file(&b, "po1.edi", "ISA*00*~", 1700000100);
	assert_int_equal(sftp_inbox_ingest(b.st, b.inbox, "acme", "po1.edi", &again,
	    err, sizeof(err)), SFTP_INGEST_STORED);
	assert_true(again != id);
	box_close(&b);
}

static void
test_ingest_never_follows_a_symbolic_link(void **state)
{
	struct box b;
	char err[512], target[4200], link[4200];
	int64_t id = 7;
	(void)state;
	box_open(&b);
	snprintf(target, sizeof(target), "%s/secret", b.dir);
	write_text(target, "not for partners");
	snprintf(link, sizeof(link), "%s/inbox/po.edi", b.dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(sftp_inbox_ingest(b.st, b.inbox, "acme", "po.edi", &id,
	    err, sizeof(err)), SFTP_INGEST_SKIPPED);
	assert_int_equal(id, 0);
	assert_false(exists_in(b.inbox, "po.edi"));
	assert_string_equal(read_text(target), "not for partners");
	assert_int_equal(sftp_inbox_ingest(b.st, b.inbox, "acme", "../secret", &id,
	    err, sizeof(err)), SFTP_INGEST_SKIPPED);
	assert_string_equal(read_text(target), "not for partners");
	box_close(&b);
}

static void
test_outbox_gets_whole_files_under_their_name_only(void **state)
{
	struct box b;
	struct spool_error sperr;
	char err[512], hash[SPOOL_HASH_HEX + 1], path[4300];
	struct stat sb;
	(void)state;
	box_open(&b);
	snprintf(path, sizeof(path), "%s/acme", b.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/acme/outbox", b.dir);
	mkdir(path, 0755);
	assert_int_equal(spool_put(store_spool(b.st), "997 text", 8, hash, &sperr),
	    SPOOL_OK);
	assert_int_equal(sftp_outbox_write(b.dir, "acme", "997-1.edi",
	    store_spool(b.st), hash, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/acme/outbox/997-1.edi", b.dir);
	assert_string_equal(read_text(path), "997 text");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(sftp_outbox_write(b.dir, "acme", "../997-2.edi",
	    store_spool(b.st), hash, err, sizeof(err)), -1);
	assert_int_equal(sftp_outbox_write(b.dir, "acme", ".997-3.edi",
	    store_spool(b.st), hash, err, sizeof(err)), -1);
	assert_int_equal(sftp_outbox_write(b.dir, "../acme", "997-4.edi",
	    store_spool(b.st), hash, err, sizeof(err)), -1);
	snprintf(path, sizeof(path), "ls -A '%s/acme/outbox' | wc -l | grep -qx 1",
	    b.dir);
	assert_int_equal(system(path), 0);
	box_close(&b);
}

/* ---- host keys --------------------------------------------------------- */

static void
test_fingerprint_is_what_ssh_keygen_prints(void **state)
{
	/* The key blob is decoded from base64 here, independently of the
	 * code under test; the expected value is ssh-keygen's. */
	static const char b64[] = KEY_B64;
	unsigned char blob[64];
	char fp[64];
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	(void)state;
	for (const char *p = b64; *p && *p != '='; p++) {
		const char *alphabet =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		acc = (acc << 6) | (unsigned)(strchr(alphabet, *p) - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			blob[n++] = (unsigned char)(acc >> bits);
		}
	}
	assert_int_equal(n, 51); /* 4+11 "ssh-ed25519", 4+32 key */
	sftp_client_fingerprint(blob, n, fp);
	assert_string_equal(fp, KEY_FP);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The queue waits 1 s after the first failed attempt and doubles from
 * there: 1, 2, 4, 8, 16, 32 s, then stays at the 60 s cap. */
static void
test_delivery_backoff_doubles_from_one_second_up_to_the_cap(void **state)
{
	(void)state;
	assert_int_equal(sftp_deliver_backoff_us(1, 1000, 60000), 1000000);
	assert_int_equal(sftp_deliver_backoff_us(2, 1000, 60000), 2000000);
	assert_int_equal(sftp_deliver_backoff_us(3, 1000, 60000), 4000000);
	assert_int_equal(sftp_deliver_backoff_us(6, 1000, 60000), 32000000);
	assert_int_equal(sftp_deliver_backoff_us(7, 1000, 60000), 60000000);
	assert_int_equal(sftp_deliver_backoff_us(1000, 1000, 60000), 60000000);
	/* Attempt 0 (a lease that expired before counting) is the first. */
	assert_int_equal(sftp_deliver_backoff_us(0, 1000, 60000), 1000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_that_are_not_one_plain_component_are_refused),
		cmocka_unit_test(test_temporary_names_follow_the_upload_convention),
		cmocka_unit_test(test_inbound_profile_reads_keys_login_and_convention),
		cmocka_unit_test(test_push_with_key_and_password_is_refused_at_its_line),
		cmocka_unit_test(test_pull_move_without_folder_and_half_host_key_are_refused),
		cmocka_unit_test(test_schema_refuses_an_unknown_upload_convention),
		cmocka_unit_test(test_fragment_locks_each_inbound_partner_into_its_chroot),
		cmocka_unit_test(test_two_partners_with_one_login_are_refused),
		cmocka_unit_test(test_ingest_stores_once_then_removes_and_recognises_a_repeat),
		cmocka_unit_test(test_ingest_never_follows_a_symbolic_link),
		cmocka_unit_test(test_outbox_gets_whole_files_under_their_name_only),
		cmocka_unit_test(test_fingerprint_is_what_ssh_keygen_prints),
		cmocka_unit_test(test_delivery_backoff_doubles_from_one_second_up_to_the_cap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
