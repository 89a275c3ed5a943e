/*
 * as2_send - see as2_send.h. The request side: profile, build, verdict,
 * queue helpers. The engine (worker and MDN route) is at the end.
 */
#define _GNU_SOURCE
#include "config.h"

#include "as2_send.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "partner.h"
#include "store.h"

static as2_status
fail(as2_error *err, as2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static as2_status
fail(as2_error *err, as2_status code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- profile ---------------------------------------------------------- */

static int
cert_valid_at(X509 *c, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(c), &now) < 0 &&
	    X509_cmp_time(X509_get0_notAfter(c), &now) > 0;
}

/* 1 when a started after b. */
static int
newer(X509 *a, X509 *b)
{
	int day, sec;

	if (!ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(b),
	    X509_get0_notBefore(a)))
		return 0;
	return day > 0 || (day == 0 && sec > 0);
}

void
as2_send_profile_free(as2_send_profile *p)
{
	if (!p)
		return;
	free(p->partner_id);
	free(p->from);
	free(p->to);
	free(p->url);
	free(p->receipt_url);
	free(p->tls_ca);
	X509_free(p->our_cert);
	EVP_PKEY_free(p->our_key);
	if (p->their_certs)
		sk_X509_pop_free(p->their_certs, X509_free);
	free(p);
}

static char *
xdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

as2_status
as2_send_profile_load(const struct partner *pt, time_t now,
    as2_send_profile **out, as2_error *err)
{
	const partner_as2 *a = pt ? pt->as2 : NULL;
	as2_send_profile *p;
	as2_status st;

	*out = NULL;
	if (!a || !a->url)
		return fail(err, AS2_ERR_ARGUMENT, "partner %s has no AS2 url "
		    "to send to", pt ? pt->id : "(none)");
	if (now == 0)
		now = time(NULL);
	p = calloc(1, sizeof *p);
	if (!p)
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	p->partner_id = xdup(pt->id);
	p->from = xdup(a->our_id ? a->our_id : "edigate");
	p->to = xdup(a->id);
	p->url = xdup(a->url);
	p->receipt_url = xdup(a->receipt_url);
	p->tls_ca = xdup(a->tls_ca);
	p->cipher = -1;
	p->retry_attempts = a->retry_attempts ? a->retry_attempts : 10;
	p->retry_delay_ms = a->retry_delay_ms;
	p->retry_max_delay_ms = a->retry_max_delay_ms;
	p->timeout_ms = a->timeout_ms;
	if (a->sign[0]) {
		p->sign = mime_micalg_parse(a->sign, strlen(a->sign),
		    &p->sign_style);
		if (p->sign == MIME_MICALG_NONE) {
			st = fail(err, AS2_ERR_UNSUPPORTED, "unknown digest %s",
			    a->sign);
			goto bad;
		}
	}
	if (a->encrypt[0]) {
		p->cipher = as2_cipher_parse(a->encrypt);
		if (p->cipher < 0) {
			st = fail(err, AS2_ERR_UNSUPPORTED, "unknown cipher %s",
			    a->encrypt);
			goto bad;
		}
	}
	p->compress = a->compress;
	if (strcmp(a->request_mdn, "none") == 0)
		p->mdn = AS2_SEND_MDN_NONE;
	else if (strcmp(a->request_mdn, "async") == 0)
		p->mdn = AS2_SEND_MDN_ASYNC;
	else
		p->mdn = AS2_SEND_MDN_SYNC;
	if (p->mdn == AS2_SEND_MDN_ASYNC && !p->receipt_url) {
		st = fail(err, AS2_ERR_ARGUMENT, "request-mdn=\"async\" needs "
		    "receipt-url (our URL for the partner's MDNs)");
		goto bad;
	}
	if (a->mdn_micalg[0]) {
		p->mic_alg = mime_micalg_parse(a->mdn_micalg,
		    strlen(a->mdn_micalg), &p->mic_style);
	} else if (p->sign != MIME_MICALG_NONE) {
		p->mic_alg = p->sign;
		p->mic_style = p->sign_style;
	} else {
		p->mic_alg = MIME_MICALG_SHA256;
		p->mic_style = MIME_MICALG_STYLE_DASH;
	}
	if (p->mic_alg == MIME_MICALG_NONE) {
		st = fail(err, AS2_ERR_UNSUPPORTED, "unknown mdn-micalg %s",
		    a->mdn_micalg);
		goto bad;
	}
	/* Theirs: all of them verify MDNs during a rotation; the newest
	 * valid one is the one we encrypt to. */
	for (size_t i = 0; i < a->their_cert_count; i++) {
		st = as2_load_certs(a->their_certs[i], &p->their_certs, err);
		if (st != AS2_OK)
			goto bad;
	}
	for (int i = 0; p->their_certs && i < sk_X509_num(p->their_certs); i++) {
		X509 *c = sk_X509_value(p->their_certs, i);

		if (cert_valid_at(c, now) &&
		    (!p->their_cert || newer(c, p->their_cert)))
			p->their_cert = c;
	}
	if (p->cipher >= 0 && !p->their_cert) {
		st = fail(err, AS2_ERR_ARGUMENT, "encryption needs a valid "
		    "<their-certificate> of %s", pt->id);
		goto bad;
	}
	if (p->sign != MIME_MICALG_NONE) {
		for (size_t i = 0; i < a->our_count; i++) {
			X509 *c = NULL;
			EVP_PKEY *k = NULL;

			if ((st = as2_load_cert(a->our_certs[i], &c, err)) != AS2_OK)
				goto bad;
			if (!cert_valid_at(c, now) ||
			    (p->our_cert && !newer(c, p->our_cert))) {
				X509_free(c);
				continue;
			}
			if ((st = as2_load_key(a->our_keys[i], &k, err)) != AS2_OK) {
				X509_free(c);
				goto bad;
			}
			X509_free(p->our_cert);
			EVP_PKEY_free(p->our_key);
			p->our_cert = c;
			p->our_key = k;
		}
		if (!p->our_cert) {
			st = fail(err, AS2_ERR_ARGUMENT, "signing needs a valid "
			    "<our-certificate> towards %s", pt->id);
			goto bad;
		}
	}
	*out = p;
	return AS2_OK;
bad:
	as2_send_profile_free(p);
	return st;
}

/* ---- message ids ------------------------------------------------------ */

void
as2_send_message_id(int64_t store_id, const char *from, char *out,
    size_t size)
{
	unsigned char rnd[8];
	char hex[17], host[64];
	size_t n = 0;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	/* RFC 5322 dot-atom: keep what is safe of our AS2 name. */
	for (const char *s = from; s && *s && n < sizeof host - 1; s++)
		if (isalnum((unsigned char)*s) || *s == '.' || *s == '-')
			host[n++] = *s;
	host[n] = 0;
	snprintf(out, size, "<edigate-%" PRId64 "-%s@%s>", store_id, hex,
	    n ? host : "edigate");
}

int64_t
as2_send_message_id_parse(const char *mid)
{
	const char *p;
	int64_t v = 0;
	int digits = 0;

	if (!mid)
		return 0;
	p = strstr(mid, "edigate-");
	if (!p)
		return 0;
	for (p += 8; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		v = v * 10 + (*p - '0');
	return digits && *p == '-' ? v : 0;
}

const char *
as2_send_payload_type(const void *head, size_t len)
{
	const unsigned char *h = head;

	while (len && (*h == ' ' || *h == '\r' || *h == '\n' || *h == '\t')) {
		h++;
		len--;
	}
	if (len >= 3 && memcmp(h, "ISA", 3) == 0)
		return "application/edi-x12";
	if (len >= 3 && (memcmp(h, "UNA", 3) == 0 || memcmp(h, "UNB", 3) == 0))
		return "application/edifact";
	return "application/octet-stream";
}

/* ---- building --------------------------------------------------------- */

static const char *
add_header(as2_send_request *r, size_t *used, const char *name,
    const char *value)
{
	size_t n = strlen(value) + 1;
	char *v;

	if (r->nheaders >= AS2_SEND_MAX_HEADERS ||
	    *used + n > sizeof r->storage)
		return NULL;
	v = r->storage + *used;
	memcpy(v, value, n);
	*used += n;
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
	return v;
}

static as2_status
tmpfile_open(as2_send_request *r, const char *workdir, BIO **bio,
    char **path, as2_error *err)
{
	int fd;
	FILE *f;

	if (r->ntmp >= 8)
		return fail(err, AS2_ERR_ARGUMENT, "too many stages");
	snprintf(r->tmp_paths[r->ntmp], sizeof r->tmp_paths[0],
	    "%s/as2-out-XXXXXX", workdir);
	fd = mkstemp(r->tmp_paths[r->ntmp]);
	if (fd < 0)
		return fail(err, AS2_ERR_IO, "temporary file in %s: %s",
		    workdir, strerror(errno));
	f = fdopen(fd, "w+b");
	if (!f) {
		close(fd);
		unlink(r->tmp_paths[r->ntmp]);
		return fail(err, AS2_ERR_IO, "fdopen: %s", strerror(errno));
	}
	*bio = BIO_new_fp(f, BIO_CLOSE);
	if (!*bio) {
		fclose(f);
		unlink(r->tmp_paths[r->ntmp]);
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	}
	*path = r->tmp_paths[r->ntmp];
	r->ntmp++;
	return AS2_OK;
}

static as2_status
bio_write_all(BIO *b, const void *p, size_t n, as2_error *err)
{
	const char *c = p;

	while (n) {
		int w = BIO_write(b, c, n > 65536 ? 65536 : (int)n);

		if (w <= 0)
			return fail(err, AS2_ERR_IO, "write failed");
		c += w;
		n -= (size_t)w;
	}
	return AS2_OK;
}

/* Copies in to out; feeds mic when not NULL. */
static as2_status
copy_bio(BIO *in, BIO *out, as2_mic *mic, as2_error *err)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(in, buf, sizeof buf)) > 0) {
		if (mic)
			as2_mic_update(mic, buf, (size_t)n);
		if (out && bio_write_all(out, buf, (size_t)n, err) != AS2_OK)
			return AS2_ERR_IO;
	}
	if (n < 0)
		return fail(err, AS2_ERR_IO, "read failed");
	return AS2_OK;
}

static as2_status
rewind_bio(BIO *b, as2_error *err)
{
	if (BIO_flush(b) != 1 || BIO_seek(b, 0) != 0)
		return fail(err, AS2_ERR_IO, "cannot rewind a temporary file");
	return AS2_OK;
}

static as2_status
mic_of(BIO *b, const as2_send_profile *p, char *out, as2_error *err)
{
	as2_mic m = {0};
	as2_status st;

	if ((st = rewind_bio(b, err)) != AS2_OK)
		return st;
	if ((st = as2_mic_init(&m, p->mic_alg, err)) != AS2_OK)
		return st;
	st = copy_bio(b, NULL, &m, err);
	if (st == AS2_OK)
		st = as2_mic_final(&m, p->mic_style, out, AS2_MIC_MAX, err);
	as2_mic_free(&m);
	return st;
}

/* An AS2 name as a header value: quoted when it holds a blank or a
 * special (RFC 4130 section 6.2). */
static void
as2_name_value(const char *name, char *out, size_t size)
{
	if (strpbrk(name, " \t()<>@,;:\\\"/[]?="))
		snprintf(out, size, "\"%s\"", name);
	else
		snprintf(out, size, "%s", name);
}

as2_status
as2_send_build(const as2_send_profile *p, BIO *payload,
    const char *payload_type, const char *filename, const char *message_id,
    const char *workdir, as2_send_request *r, as2_error *err)
{
	BIO *ent = NULL, *stage = NULL, *enc = NULL, *body = NULL, *zbody = NULL;
	char *zbody_path = NULL;
	char *ent_path = NULL, *stage_path = NULL, *enc_path = NULL;
	char *body_path = NULL;
	char *signed_ct = NULL, line[1024], mic_sign[AS2_MIC_MAX];
	const char *ct = payload_type;
	size_t used = 0;
	as2_status st;
	struct stat sb;
	int signing = p->sign != MIME_MICALG_NONE;
	int encrypting = p->cipher >= 0;
	as2_mic pm = {0};

	memset(r, 0, sizeof *r);
	snprintf(r->message_id, sizeof r->message_id, "%s", message_id);
	if (strpbrk(message_id, "\r\n") || strpbrk(filename, "\r\n\"") ||
	    strpbrk(payload_type, "\r\n"))
		return fail(err, AS2_ERR_ARGUMENT, "CR, LF or quote in a "
		    "header value");

	/* Plain: the payload is the body, and the MIC covers the content
	 * without headers (RFC 4130 section 7.3.1). */
	if (!signing && !encrypting && !p->compress) {
		if ((st = tmpfile_open(r, workdir, &body, &body_path, err)))
			goto out;
		if ((st = as2_mic_init(&pm, p->mic_alg, err)) != AS2_OK)
			goto out;
		if ((st = copy_bio(payload, body, &pm, err)) != AS2_OK)
			goto out;
		if ((st = as2_mic_final(&pm, p->mic_style, r->mic,
		    sizeof r->mic, err)) != AS2_OK)
			goto out;
		goto headers;
	}

	/* The MIME entity of the payload. */
	if ((st = tmpfile_open(r, workdir, &ent, &ent_path, err)))
		goto out;
	snprintf(line, sizeof line, "Content-Type: %s\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
	    payload_type, filename);
	if ((st = bio_write_all(ent, line, strlen(line), err)) != AS2_OK ||
	    (st = copy_bio(payload, ent, NULL, err)) != AS2_OK)
		goto out;

	/* Compression before signing (RFC 5402 section 3): the
	 * CompressedData alone (zbody), then as an entity. */
	if (p->compress) {
		BIO *z;
		char *z_path;

		if ((st = rewind_bio(ent, err)) != AS2_OK ||
		    (st = tmpfile_open(r, workdir, &zbody, &zbody_path, err)))
			goto out;
		if ((st = as2_compress(ent, zbody, 0, err)) != AS2_OK ||
		    (st = rewind_bio(zbody, err)) != AS2_OK ||
		    (st = tmpfile_open(r, workdir, &z, &z_path, err)))
			goto out;
		snprintf(line, sizeof line, "Content-Type: %s\r\n"
		    "Content-Transfer-Encoding: binary\r\n"
		    "Content-Disposition: attachment; filename=\"smime.p7z\"\r\n\r\n",
		    as2_cms_content_type(AS2_CMS_COMPRESSED));
		st = bio_write_all(z, line, strlen(line), err);
		if (st == AS2_OK)
			st = copy_bio(zbody, z, NULL, err);
		BIO_free(ent);
		ent = z;
		ent_path = z_path;
		if (st != AS2_OK)
			goto out;
		ct = as2_cms_content_type(AS2_CMS_COMPRESSED);
	}

	if (signing) {
		if ((st = rewind_bio(ent, err)) != AS2_OK ||
		    (st = tmpfile_open(r, workdir, &stage, &stage_path, err)))
			goto out;
		st = as2_write_signed(ent, stage, p->our_cert, p->our_key, NULL,
		    p->sign, p->sign_style, &signed_ct, mic_sign, err);
		if (st != AS2_OK)
			goto out;
		if (p->mic_alg == p->sign)
			snprintf(r->mic, sizeof r->mic, "%s", mic_sign);
		else if ((st = mic_of(ent, p, r->mic, err)) != AS2_OK)
			goto out;
		ct = signed_ct;
	} else {
		/* Unsigned but encrypted (or only compressed): the MIC covers
		 * the entity with its headers. */
		if ((st = mic_of(ent, p, r->mic, err)) != AS2_OK)
			goto out;
	}

	if (encrypting) {
		BIO *in;
		STACK_OF(X509) *rcpt = sk_X509_new_null();

		if (!rcpt || !sk_X509_push(rcpt, p->their_cert)) {
			sk_X509_free(rcpt);
			st = fail(err, AS2_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (signing) {
			/* The multipart/signed becomes an entity: its
			 * Content-Type line, then the body as written. */
			BIO *se;
			char *se_path;

			if ((st = tmpfile_open(r, workdir, &se, &se_path, err)) ||
			    (st = rewind_bio(stage, err))) {
				sk_X509_free(rcpt);
				goto out;
			}
			snprintf(line, sizeof line, "Content-Type: %s\r\n\r\n",
			    signed_ct);
			st = bio_write_all(se, line, strlen(line), err);
			if (st == AS2_OK)
				st = copy_bio(stage, se, NULL, err);
			BIO_free(stage);
			stage = se;
			stage_path = se_path;
			in = stage;
		} else {
			in = ent;
		}
		if (st == AS2_OK)
			st = rewind_bio(in, err);
		if (st == AS2_OK)
			st = tmpfile_open(r, workdir, &enc, &enc_path, err);
		if (st == AS2_OK)
			st = as2_encrypt(in, enc, rcpt, (as2_cipher)p->cipher, err);
		sk_X509_free(rcpt);
		if (st != AS2_OK)
			goto out;
		ct = as2_cms_content_type(p->cipher == AS2_CIPHER_AES128_GCM ||
		    p->cipher == AS2_CIPHER_AES256_GCM ? AS2_CMS_AUTH_ENVELOPED
		    : AS2_CMS_ENVELOPED);
		body = enc;
		body_path = enc_path;
		enc = NULL;
	} else if (signing) {
		/* The multipart body goes out as the HTTP body; its
		 * Content-Type is the HTTP Content-Type. */
		body = stage;
		body_path = stage_path;
		stage = NULL;
	} else {
		/* Compressed only: the CompressedData is the body. */
		body = zbody;
		body_path = zbody_path;
		zbody = NULL;
	}

headers:
	if (BIO_flush(body) != 1 || stat(body_path, &sb) != 0) {
		st = fail(err, AS2_ERR_IO, "cannot finish the body file");
		goto out;
	}
	snprintf(r->body_path, sizeof r->body_path, "%s", body_path);
	r->body_size = (uint64_t)sb.st_size;
	snprintf(r->content_type, sizeof r->content_type, "%s", ct);
	{
		char v[600], date[64];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
		add_header(r, &used, "AS2-Version", "1.2");
		as2_name_value(p->from, v, sizeof v);
		add_header(r, &used, "AS2-From", v);
		as2_name_value(p->to, v, sizeof v);
		add_header(r, &used, "AS2-To", v);
		add_header(r, &used, "Message-ID", message_id);
		add_header(r, &used, "Date", date);
		add_header(r, &used, "Subject", "EDI interchange");
		add_header(r, &used, "MIME-Version", "1.0");
		add_header(r, &used, "Content-Type", r->content_type);
		add_header(r, &used, "Content-Transfer-Encoding", "binary");
		if (p->mdn != AS2_SEND_MDN_NONE) {
			snprintf(v, sizeof v, "%s", p->receipt_url ? p->receipt_url
			    : p->url);
			add_header(r, &used, "Disposition-Notification-To", v);
			/* A signed receipt is asked for when we can check one;
			 * the MIC algorithm is what we computed. */
			if (p->their_certs && sk_X509_num(p->their_certs) > 0)
				snprintf(v, sizeof v, "signed-receipt-protocol="
				    "optional, pkcs7-signature; signed-receipt-"
				    "micalg=optional, %s",
				    mime_micalg_name(p->mic_alg, p->mic_style));
			else
				snprintf(v, sizeof v, "signed-receipt-micalg="
				    "optional, %s",
				    mime_micalg_name(p->mic_alg, p->mic_style));
			add_header(r, &used, "Disposition-Notification-Options",
			    v);
		}
		if (p->mdn == AS2_SEND_MDN_ASYNC)
			add_header(r, &used, "Receipt-Delivery-Option",
			    p->receipt_url);
		snprintf(v, sizeof v, "attachment; filename=\"%s\"",
		    encrypting ? "smime.p7m" : filename);
		if (!add_header(r, &used, "Content-Disposition", v)) {
			st = fail(err, AS2_ERR_ARGUMENT, "headers too long");
			goto out;
		}
	}
	st = AS2_OK;
out:
	as2_mic_free(&pm);
	free(signed_ct);
	if (ent)
		BIO_free(ent);
	if (stage)
		BIO_free(stage);
	if (enc)
		BIO_free(enc);
	if (zbody)
		BIO_free(zbody);
	if (body && body != ent && body != stage)
		BIO_free(body);
	if (st != AS2_OK)
		as2_send_request_cleanup(r);
	return st;
}

void
as2_send_request_cleanup(as2_send_request *r)
{
	for (int i = 0; i < r->ntmp; i++)
		if (r->tmp_paths[i][0])
			unlink(r->tmp_paths[i]);
	r->ntmp = 0;
}

/* ---- verdict ---------------------------------------------------------- */

static int
same_message_id(const char *a, const char *b)
{
	size_t la, lb;

	while (*a == ' ' || *a == '<')
		a++;
	while (*b == ' ' || *b == '<')
		b++;
	la = strcspn(a, ">");
	lb = strcspn(b, ">");
	return la == lb && strncmp(a, b, la) == 0;
}

enum as2_send_verdict
as2_send_judge(const as2_mdn *mdn, const char *message_id,
    const char *expected_mic, char *why, size_t whysize)
{
	if (message_id && !same_message_id(mdn->original_message_id,
	    message_id)) {
		snprintf(why, whysize, "MDN is for %s, not %s",
		    mdn->original_message_id, message_id);
		return AS2_SEND_VERDICT_MDN_FAILED;
	}
	if (mdn->disposition != AS2_DISPOSITION_PROCESSED &&
	    mdn->disposition != AS2_DISPOSITION_WARNING) {
		snprintf(why, whysize, "negative disposition: %s",
		    mdn->disposition_field[0] ? mdn->disposition_field
		    : as2_disposition_name(mdn->disposition));
		return AS2_SEND_VERDICT_MDN_FAILED;
	}
	if (!mdn->mic[0]) {
		snprintf(why, whysize, "MDN carries no Received-content-MIC");
		return AS2_SEND_VERDICT_MDN_FAILED;
	}
	if (!as2_mic_equal(mdn->mic, expected_mic)) {
		snprintf(why, whysize, "MIC mismatch: partner computed %s, "
		    "we sent %s", mdn->mic, expected_mic);
		return AS2_SEND_VERDICT_MDN_FAILED;
	}
	why[0] = 0;
	return AS2_SEND_VERDICT_DELIVERED;
}

int64_t
as2_send_backoff_us(unsigned attempt, unsigned base_ms, unsigned max_ms,
    double u)
{
	int64_t d = (int64_t)base_ms * 1000;
	int64_t max = (int64_t)max_ms * 1000;

	if (attempt < 1)
		attempt = 1;
	for (unsigned i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.999999;
	return d - (int64_t)((double)d * 0.2 * u);
}

/* ---- queue ------------------------------------------------------------ */

#include <jansson.h>

#include "spool.h"

#define AS2_ENDPOINT_PREFIX "as2:"

static void
idem_key(int64_t message_id, char *out, size_t size)
{
	snprintf(out, size, "as2:%" PRId64, message_id);
}

int
as2_send_queue_file(struct store *st, const char *partner_id,
    const char *path, const char *message_type, int64_t *message_id,
    char *err, size_t errsize)
{
	struct spool *sp = store_spool(st);
	struct spool_writer *w = NULL;
	struct spool_error se;
	struct store_error e;
	struct store_message m;
	char buf[65536], endpoint[STORE_ENDPOINT_MAX + 1], key[64];
	uint64_t size;
	int64_t did;
	int existed;
	size_t n;
	FILE *f;

	if (!sp) {
		snprintf(err, errsize, "the store has no spool for payloads");
		return -1;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (spool_writer_new(sp, &w, &se) != SPOOL_OK) {
		snprintf(err, errsize, "spool: %s", se.message);
		goto fail;
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		if (spool_writer_feed(w, buf, n, &se) != SPOOL_OK) {
			snprintf(err, errsize, "spool: %s", se.message);
			spool_writer_abort(w);
			goto fail;
		}
	if (ferror(f)) {
		snprintf(err, errsize, "%s: read error", path);
		spool_writer_abort(w);
		goto fail;
	}
	memset(&m, 0, sizeof m);
	if (spool_writer_commit(w, m.payload_hash, &size, &se) != SPOOL_OK) {
		snprintf(err, errsize, "spool: %s", se.message);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	f = NULL;
	m.direction = STORE_OUT;
	snprintf(m.partner, sizeof m.partner, "%s", partner_id);
	snprintf(m.transport, sizeof m.transport, "as2");
	snprintf(m.message_type, sizeof m.message_type, "%s",
	    message_type ? message_type : "edi");
	snprintf(m.state, sizeof m.state, "queued");
	m.size = (int64_t)size;
	snprintf(endpoint, sizeof endpoint, AS2_ENDPOINT_PREFIX "%s", partner_id);
	/* Message and queue entry together, or neither. */
	if (store_tx_begin(st, &e) != STORE_OK)
		goto store_fail;
	if (store_message_put(st, &m, NULL, &e) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	idem_key(m.id, key, sizeof key);
	if (store_delivery_enqueue(st, m.id, endpoint, key, store_now_us(),
	    &did, &existed, &e) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	if (store_tx_commit(st, &e) != STORE_OK)
		goto store_fail;
	*message_id = m.id;
	return 0;
store_fail:
	snprintf(err, errsize, "store: %s", e.message);
	return -1;
fail:
	if (f && f != stdin)
		fclose(f);
	return -1;
}

int
as2_send_queue_message(struct store *st, int64_t message_id,
    const char *partner_id, char *err, size_t errsize)
{
	struct store_error e;
	char key[64], endpoint[STORE_ENDPOINT_MAX + 1];
	int64_t did;
	int existed;

	idem_key(message_id, key, sizeof key);
	snprintf(endpoint, sizeof endpoint, AS2_ENDPOINT_PREFIX "%s", partner_id);
	/* The key makes a second call for the same message a no-op. */
	if (store_delivery_enqueue(st, message_id, endpoint, key,
	    store_now_us(), &did, &existed, &e) != STORE_OK) {
		snprintf(err, errsize, "store: %s", e.message);
		return -1;
	}
	return 0;
}

int
as2_send_resend(struct store *st, int64_t message_id, const char *who,
    char *err, size_t errsize)
{
	struct store_message m;
	struct store_error e;
	char key[64], endpoint[STORE_ENDPOINT_MAX + 1], *detail;
	int64_t did;
	int existed;
	json_t *j;

	if (store_message_get(st, message_id, &m, &e) != STORE_OK) {
		snprintf(err, errsize, "message %" PRId64 ": %s", message_id,
		    e.message);
		return -1;
	}
	if (m.direction != STORE_OUT || strcmp(m.transport, "as2") != 0) {
		snprintf(err, errsize, "message %" PRId64 " is not an outbound "
		    "AS2 message", message_id);
		return -1;
	}
	if (strcmp(m.state, "failed") != 0 && strcmp(m.state, "mdn-failed") &&
	    strcmp(m.state, "sent") != 0) {
		snprintf(err, errsize, "message %" PRId64 " is %s; only failed, "
		    "mdn-failed or sent messages can be resent", message_id,
		    m.state);
		return -1;
	}
	idem_key(message_id, key, sizeof key);
	snprintf(endpoint, sizeof endpoint, AS2_ENDPOINT_PREFIX "%s", m.partner);
	j = json_pack("{s:s, s:s}", "by", who ? who : "", "from", m.state);
	detail = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (store_tx_begin(st, &e) != STORE_OK)
		goto store_fail;
	if (store_delivery_enqueue(st, message_id, endpoint, key,
	    store_now_us(), &did, &existed, &e) != STORE_OK ||
	    (existed && store_delivery_replay(st, did, store_now_us(), &e)
	    != STORE_OK) ||
	    store_event_append(st, message_id, m.correlation_id, "as2.resend",
	    detail, NULL, &e) != STORE_OK ||
	    store_message_set_state(st, message_id, m.state, "queued", detail,
	    &e) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	if (store_tx_commit(st, &e) != STORE_OK)
		goto store_fail;
	free(detail);
	return 0;
store_fail:
	free(detail);
	snprintf(err, errsize, "store: %s", e.message);
	return -1;
}

/* ---- the engine --------------------------------------------------------- */

#include <event2/buffer.h>
#include <event2/event.h>

#include "configfile.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "partner_set.h"
#include "workers.h"

#define SENDER_MAX_INFLIGHT 8
#define SENDER_LEASE_US (3600LL * 1000000)
#define SENDER_MDN_MAX (1024 * 1024)
/* A claimed entry that is not ours goes back this much later. */
#define SENDER_NOT_OURS_US (5LL * 1000000)

struct as2_sender {
	struct daemon *d;
	struct event_base *base;
	struct store *st;
	struct partner_set *ps;
	struct http_client *http;
	struct event *timer;
	struct event *wait_timer;       /* async MDNs overdue: mdn_wait */
	int64_t mdn_wait_us;
	unsigned inflight;
	int hosted;             /* another worker claims; no timer of ours */
	struct metrics_family *m_send;  /* edigate_as2_send_total */
	char worker[64];
	char workdir[3000];
};

struct send_job {
	struct as2_sender *s;
	struct store_delivery dl;
	struct store_message msg;
	as2_send_profile *prof;
	as2_send_request req;
	char payload_path[4096];
	/* hosted by another queue worker (as2_sender_deliver) */
	as2_sender_done_fn hosted_done;
	void *token;
	/* the worker's build */
	int built;
	int counted;            /* in s->inflight */
	char mid[256];
	char why[512];
};

static void build_work(void *arg);
static void build_done(void *arg, int cancelled);

/* edigate_as2_send_total{partner,result}, and messages out when the
 * partner has it. */
static void
count(struct as2_sender *s, const struct store_message *m, const char *result)
{
	const char *v[] = {m->partner, result};

	if (s->m_send)
		metrics_counter_add(s->m_send, v, 1);
	if (strcmp(result, "delivered") == 0) {
		const char *mv[] = {"out", m->partner, m->message_type};

		metrics_counter_add(daemon_std_metrics(s->d)->messages, mv, 1);
	}
}

static char *
detail_of(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	return s;
}

static void
event_add_msg(struct as2_sender *s, const struct store_message *m,
    const char *kind, json_t *detail)
{
	struct store_error e;
	char *d = detail_of(detail);

	if (store_event_append(s->st, m->id, m->correlation_id, kind, d, NULL,
	    &e) != STORE_OK)
		log_error("as2 send: cannot record an event", "kind", kind,
		    "error", e.message, "correlation_id", m->correlation_id,
		    NULL);
	free(d);
}

static void
set_state(struct as2_sender *s, const struct store_message *m,
    const char *expected, const char *state, json_t *detail)
{
	struct store_error e;
	char *d = detail_of(detail);
	int rc = store_message_set_state(s->st, m->id, expected, state, d, &e);

	if (rc != STORE_OK && rc != STORE_ECONFLICT)
		log_error("as2 send: cannot change the message state", "state",
		    state, "error", e.message, "correlation_id",
		    m->correlation_id, NULL);
	free(d);
}

static void
job_free(struct send_job *j)
{
	if (!j)
		return;
	if (j->counted && j->s->inflight > 0)
		j->s->inflight--;
	as2_send_request_cleanup(&j->req);
	if (j->payload_path[0])
		unlink(j->payload_path);
	as2_send_profile_free(j->prof);
	free(j);
}

/* The delivery failed for good: dead in the queue, "failed" in the
 * store. */
static void
give_up(struct as2_sender *s, struct send_job *j, const char *why)
{
	struct store_error e;
	int dead = 0;

	if (j->hosted_done)
		j->hosted_done(j->token, AS2_SENDER_PERMANENT, why);
	else
		store_delivery_fail(s->st, j->dl.id, s->worker, why,
		    store_now_us(), 1, &dead, &e);
	set_state(s, &j->msg, NULL, "failed", json_pack("{s:s, s:i}", "error",
	    why, "attempts", j->dl.attempts));
	count(s, &j->msg, "failed");
	log_warn("as2 send failed", "partner", j->msg.partner, "error", why,
	    "correlation_id", j->msg.correlation_id, NULL);
}

static void
retry_later(struct as2_sender *s, struct send_job *j,
    const struct http_client_response *resp)
{
	struct store_error e;
	unsigned attempts = (unsigned)(j->dl.attempts > 0 ? j->dl.attempts : 1);
	int64_t next = store_now_us() + as2_send_backoff_us(attempts,
	    j->prof->retry_delay_ms, j->prof->retry_max_delay_ms,
	    (double)(rand() % 10000) / 10000.0);
	int dead = 0;
	char why[300];

	snprintf(why, sizeof why, "%s: %s", http_client_result_name(resp->result),
	    resp->message);
	if (j->hosted_done) {
		/* The host keeps its own schedule; the partner's limit is
		 * ours to apply. */
		dead = attempts >= j->prof->retry_attempts;
		j->hosted_done(j->token, dead ? AS2_SENDER_PERMANENT
		    : AS2_SENDER_RETRY, why);
	} else if (store_delivery_fail(s->st, j->dl.id, s->worker, why, next,
	    (int)j->prof->retry_attempts, &dead, &e) != STORE_OK) {
		log_error("as2 send: cannot requeue", "error", e.message,
		    "correlation_id", j->msg.correlation_id, NULL);
		return;
	}
	event_add_msg(s, &j->msg, "as2.attempt-failed", json_pack(
	    "{s:i, s:s, s:s, s:i, s:b, s:I}", "attempt", (int)attempts,
	    "class", http_client_result_name(resp->result), "error",
	    resp->message, "status", resp->status, "dead", dead,
	    "next_attempt_us", (json_int_t)(dead ? 0 : next)));
	count(s, &j->msg, dead ? "failed" : "retry");
	if (dead) {
		set_state(s, &j->msg, NULL, "failed", json_pack("{s:s, s:i}",
		    "error", why, "attempts", (int)attempts));
		log_warn("as2 send failed after the retry limit", "partner",
		    j->msg.partner, "error", why, "correlation_id",
		    j->msg.correlation_id, NULL);
	} else {
		log_info("as2 send will be retried", "partner", j->msg.partner,
		    "error", why, "correlation_id", j->msg.correlation_id,
		    NULL);
	}
}

/* Records an MDN (kept raw in the spool) and moves the message to
 * delivered or mdn-failed. Returns the verdict. */
static enum as2_send_verdict
record_mdn(struct as2_sender *s, const struct store_message *m,
    const char *expected_state, const char *content_type, const void *body,
    size_t len, const as2_send_profile *prof, const char *message_id,
    const char *mic)
{
	as2_mdn mdn;
	as2_error ae;
	as2_status st;
	char why[400] = "", hash[SPOOL_HASH_HEX + 1] = "";
	struct spool_error se;
	enum as2_send_verdict v;

	if (store_spool(s->st) && spool_put(store_spool(s->st), body, len, hash,
	    &se) != SPOOL_OK)
		hash[0] = 0;
	st = as2_mdn_parse(content_type, body, len, prof->their_certs, 0, 0,
	    &mdn, &ae);
	if (st != AS2_OK) {
		v = AS2_SEND_VERDICT_MDN_FAILED;
		snprintf(why, sizeof why, "MDN not accepted: %s", ae.message);
		memset(&mdn, 0, sizeof mdn);
	} else {
		v = as2_send_judge(&mdn, message_id, mic, why, sizeof why);
	}
	event_add_msg(s, m, "as2.mdn", json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}",
	    "verdict", v == AS2_SEND_VERDICT_DELIVERED ? "delivered"
	    : "mdn-failed", "reason", why, "disposition", mdn.disposition_field,
	    "mic", mdn.mic, "expected_mic", mic, "signed", mdn.was_signed,
	    "original_message_id", mdn.original_message_id, "raw_mdn", hash,
	    "content_type", content_type ? content_type : "",
	    "as2_message_id", message_id));
	count(s, m, v == AS2_SEND_VERDICT_DELIVERED ? "delivered"
	    : "mdn-failed");
	if (v == AS2_SEND_VERDICT_DELIVERED) {
		set_state(s, m, expected_state, "delivered", json_pack(
		    "{s:s, s:b}", "mic", mic, "signed_mdn", mdn.was_signed));
		log_info("as2 message delivered", "partner", m->partner,
		    "message_id", message_id, "correlation_id",
		    m->correlation_id, NULL);
	} else {
		set_state(s, m, expected_state, "mdn-failed", json_pack(
		    "{s:s}", "reason", why));
		log_warn("as2 MDN failed", "partner", m->partner, "reason", why,
		    "message_id", message_id, "correlation_id",
		    m->correlation_id, NULL);
	}
	return v;
}

static void
send_done(const struct http_client_response *resp, void *arg)
{
	struct send_job *j = arg;
	struct as2_sender *s = j->s;
	struct store_error e;

	as2_send_request_cleanup(&j->req);
	if (resp->result == HTTP_CLIENT_CANCELLED) {
		/* Shutting down: the claim expires and another run retries. */
		if (j->hosted_done)
			j->hosted_done(j->token, AS2_SENDER_RETRY,
			    "shutting down");
		job_free(j);
		return;
	}
	if (resp->result != HTTP_CLIENT_OK) {
		retry_later(s, j, resp);
		job_free(j);
		return;
	}
	if (j->hosted_done)
		j->hosted_done(j->token, AS2_SENDER_DELIVERED, NULL);
	else if (store_delivery_done(s->st, j->dl.id, s->worker, &e)
	    != STORE_OK)
		log_warn("as2 send: delivery claim lost", "error", e.message,
		    "correlation_id", j->msg.correlation_id, NULL);
	switch (j->prof->mdn) {
	case AS2_SEND_MDN_SYNC:
		record_mdn(s, &j->msg, NULL, http_client_response_header(resp,
		    "Content-Type"), resp->body, resp->body_len, j->prof,
		    j->req.message_id, j->req.mic);
		break;
	case AS2_SEND_MDN_ASYNC:
		/* The MDN may have come back before this response did. */
		count(s, &j->msg, "sent");
		set_state(s, &j->msg, "queued", "sent", json_pack("{s:s, s:i}",
		    "as2_message_id", j->req.message_id, "status",
		    resp->status));
		break;
	case AS2_SEND_MDN_NONE:
		count(s, &j->msg, "delivered");
		set_state(s, &j->msg, NULL, "delivered", json_pack("{s:i}",
		    "status", resp->status));
		break;
	}
	job_free(j);
}

/* Copies the payload out of the spool (checking its hash) into a file
 * the build reads. */
static int
payload_to_file(struct as2_sender *s, struct send_job *j, char *why,
    size_t whysize)
{
	struct spool_reader *rd;
	struct spool_error se;
	char buf[65536];
	size_t got;
	int fd;

	if (!store_spool(s->st)) {
		snprintf(why, whysize, "the store has no spool to read the "
		    "payload from");
		return -1;
	}
	snprintf(j->payload_path, sizeof j->payload_path,
	    "%s/as2-payload-XXXXXX", s->workdir);
	fd = mkstemp(j->payload_path);
	if (fd < 0) {
		snprintf(why, whysize, "temporary file in %.200s: %s", s->workdir,
		    strerror(errno));
		j->payload_path[0] = 0;
		return -1;
	}
	if (spool_reader_open(store_spool(s->st), j->msg.payload_hash, &rd,
	    &se) != SPOOL_OK) {
		snprintf(why, whysize, "payload: %s", se.message);
		close(fd);
		return -1;
	}
	for (;;) {
		if (spool_reader_read(rd, buf, sizeof buf, &got, &se)
		    != SPOOL_OK) {
			snprintf(why, whysize, "payload: %s", se.message);
			spool_reader_close(rd);
			close(fd);
			return -1;
		}
		if (got == 0)
			break;
		if (write(fd, buf, got) != (ssize_t)got) {
			snprintf(why, whysize, "temporary file: %s",
			    strerror(errno));
			spool_reader_close(rd);
			close(fd);
			return -1;
		}
	}
	spool_reader_close(rd);
	close(fd);
	return 0;
}

/* Sends one claimed delivery of msg (msg NULL: read it). With hosted
 * set, the outcome goes to hosted(token, ...) instead of the queue. */
static void
start_delivery(struct as2_sender *s, const struct store_delivery *dl,
    const struct store_message *msg, as2_sender_done_fn hosted, void *token)
{
	struct send_job *j = calloc(1, sizeof *j);
	struct store_error e;
	const struct partner *pt;
	as2_error ae;
	char why[512];
	int dead;

	if (!j) {
		if (hosted)
			hosted(token, AS2_SENDER_RETRY, "out of memory");
		else
			store_delivery_fail(s->st, dl->id, s->worker,
			    "out of memory", store_now_us() + SENDER_NOT_OURS_US,
			    1 << 30, &dead, &e);
		return;
	}
	j->s = s;
	j->dl = *dl;
	j->hosted_done = hosted;
	j->token = token;
	if (msg) {
		j->msg = *msg;
	} else if (store_message_get(s->st, dl->message_id, &j->msg, &e)
	    != STORE_OK) {
		store_delivery_fail(s->st, dl->id, s->worker, e.message,
		    store_now_us(), 1, &dead, &e);
		job_free(j);
		return;
	}
	pt = s->ps ? partner_set_find(s->ps, j->msg.partner) : NULL;
	if (!pt) {
		snprintf(why, sizeof why, "no partner profile %s",
		    j->msg.partner);
		give_up(s, j, why);
		job_free(j);
		return;
	}
	if (as2_send_profile_load(pt, 0, &j->prof, &ae) != AS2_OK) {
		give_up(s, j, ae.message);
		job_free(j);
		return;
	}
	/* Copying out of the spool, compressing, signing and encrypting
	 * are CPU and disk work: a worker thread does them, so the
	 * listeners keep answering while a large interchange is built. */
	s->inflight++;
	j->counted = 1;
	if (workers_submit(daemon_workers(s->d), build_work, build_done, j)
	    != 0) {
		struct http_client_response r = {0};

		r.result = HTTP_CLIENT_ERR_NOMEM;
		snprintf(r.message, sizeof r.message, "worker queue full");
		retry_later(s, j, &r);
		job_free(j);
	}
}

/* On a worker thread: touches only the job, the spool files and the
 * profile it owns. */
static void
build_work(void *arg)
{
	struct send_job *j = arg;
	struct as2_sender *s = j->s;
	char head[16] = "", fname[96];
	as2_error ae;
	size_t hl;
	BIO *pb;

	if (payload_to_file(s, j, j->why, sizeof j->why) != 0)
		return;
	pb = BIO_new_file(j->payload_path, "rb");
	if (!pb) {
		snprintf(j->why, sizeof j->why, "cannot reopen the payload");
		return;
	}
	hl = (size_t)BIO_read(pb, head, sizeof head);
	BIO_seek(pb, 0);
	as2_send_message_id(j->msg.id, j->prof->from, j->mid, sizeof j->mid);
	snprintf(fname, sizeof fname, "edigate-%" PRId64 ".edi", j->msg.id);
	if (as2_send_build(j->prof, pb, as2_send_payload_type(head,
	    hl > sizeof head ? 0 : hl), fname, j->mid, s->workdir, &j->req,
	    &ae) != AS2_OK) {
		snprintf(j->why, sizeof j->why, "%s", ae.message);
		BIO_free(pb);
		return;
	}
	BIO_free(pb);
	unlink(j->payload_path);
	j->payload_path[0] = 0;
	j->built = 1;
}

/* Back on the loop: record the attempt, then POST. */
static void
build_done(void *arg, int cancelled)
{
	struct send_job *j = arg;
	struct as2_sender *s = j->s;
	struct http_client_request rq = {0};
	struct http_client_tls tls = {0};
	char why[512];

	if (cancelled) {
		/* Shutting down: the claim expires and a later run sends. */
		if (j->hosted_done)
			j->hosted_done(j->token, AS2_SENDER_RETRY,
			    "shutting down");
		job_free(j);
		return;
	}
	if (!j->built) {
		give_up(s, j, j->why);
		job_free(j);
		return;
	}
	/* Durable before the POST: an asynchronous MDN may beat the HTTP
	 * response, and any node must be able to match it. */
	event_add_msg(s, &j->msg, "as2.sent", json_pack(
	    "{s:s, s:s, s:s, s:i, s:s, s:I}", "message_id", j->req.message_id,
	    "mic", j->req.mic, "url", j->prof->url, "attempt", j->dl.attempts,
	    "mdn", j->prof->mdn == AS2_SEND_MDN_SYNC ? "sync"
	    : j->prof->mdn == AS2_SEND_MDN_ASYNC ? "async" : "none",
	    "size", (json_int_t)j->req.body_size));
	rq.method = "POST";
	rq.url = j->prof->url;
	rq.headers = j->req.headers;
	rq.nheaders = j->req.nheaders;
	rq.body_file = j->req.body_path;
	rq.timeout_ms = j->prof->timeout_ms;
	rq.max_body_size = SENDER_MDN_MAX;
	if (j->prof->tls_ca) {
		tls.ca_file = j->prof->tls_ca;
		rq.tls = &tls;
	}
	if (!http_client_send(s->http, &rq, send_done, j, why, sizeof why)) {
		struct http_client_response r = {0};

		r.result = HTTP_CLIENT_ERR_ARGUMENT;
		snprintf(r.message, sizeof r.message, "%.250s", why);
		retry_later(s, j, &r);
		job_free(j);
		return;
	}
	log_info("as2 message posted", "partner", j->msg.partner, "url",
	    j->prof->url, "message_id", j->req.message_id, "correlation_id",
	    j->msg.correlation_id, NULL);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct as2_sender *s = arg;
	struct store_delivery dl;
	struct store_error e;

	(void)fd;
	(void)what;
	if (!s->st || !s->ps || s->hosted)
		return;
	while (s->inflight < SENDER_MAX_INFLIGHT) {
		/* Only "as2:" entries: webhooks and SFTP have their own
		 * workers on the same queue. */
		int rc = store_delivery_claim_prefix(s->st, s->worker,
		    AS2_ENDPOINT_PREFIX, store_now_us(), SENDER_LEASE_US, &dl,
		    &e);

		if (rc == STORE_ENOTFOUND)
			break;
		if (rc != STORE_OK) {
			log_error("as2 send: cannot claim", "error", e.message,
			    NULL);
			break;
		}
		start_delivery(s, &dl, NULL, NULL, NULL);
	}
}

/*
 * A message sent with an asynchronous MDN requested waits in "sent". One
 * whose MDN has not come within [as2] mdn_wait becomes mdn-failed (the
 * partner took it but never confirmed it; resending is an operator's
 * call, since the partner may hold it already). The change is
 * conditional on "sent", so an MDN arriving meanwhile, or another node
 * doing the same check, wins cleanly; an MDN that comes later still makes
 * it delivered.
 */
struct overdue_scan {
	struct as2_sender *s;
	int64_t now_us;
	unsigned marked;
};

static int
overdue_one(void *ud, const struct store_message *m)
{
	struct overdue_scan *o = ud;
	struct as2_sender *s = o->s;
	struct store_error e;
	char *d;
	int rc;
	long long waited_s;

	if (m->direction != STORE_OUT || strcmp(m->transport, "as2") != 0 ||
	    o->now_us - m->updated_us < s->mdn_wait_us)
		return 0;
	waited_s = (long long)((o->now_us - m->updated_us) / 1000000);
	d = detail_of(json_pack("{s:s, s:I, s:I}", "reason", "no asynchronous "
	    "MDN within mdn_wait", "waited_s", (json_int_t)waited_s,
	    "mdn_wait_s", (json_int_t)(s->mdn_wait_us / 1000000)));
	rc = store_message_set_state(s->st, m->id, "sent", "mdn-failed", d, &e);
	free(d);
	if (rc == STORE_ECONFLICT)
		return 0;
	if (rc != STORE_OK) {
		log_error("as2 send: cannot mark an MDN overdue", "error",
		    e.message, "correlation_id", m->correlation_id, NULL);
		return 0;
	}
	event_add_msg(s, m, "as2.mdn-timeout", json_pack("{s:I, s:I}",
	    "waited_s", (json_int_t)waited_s, "mdn_wait_s",
	    (json_int_t)(s->mdn_wait_us / 1000000)));
	count(s, m, "mdn-timeout");
	{
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)m->id);
		log_warn("as2 MDN overdue: message is mdn-failed", "partner",
		    m->partner, "message", id, "correlation_id",
		    m->correlation_id, NULL);
	}
	o->marked++;
	return 0;
}

static void
wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct as2_sender *s = arg;
	struct store_message_filter f = { .state = "sent" };
	struct overdue_scan o = { s, store_now_us(), 0 };
	struct store_error e;

	(void)fd;
	(void)what;
	if (!s->st)
		return;
	/* Only messages sent before now - mdn_wait can be due. */
	f.until_us = o.now_us - s->mdn_wait_us + 1;
	if (store_message_list(s->st, &f, overdue_one, &o, &e) != STORE_OK)
		log_error("as2 send: cannot list messages awaiting an MDN",
		    "error", e.message, NULL);
}

void
as2_sender_deliver(void *ctx, const struct store_delivery *delivery,
    const struct store_message *msg, as2_sender_done_fn done, void *token)
{
	struct as2_sender *s = ctx;

	if (!s->st || !s->ps) {
		done(token, AS2_SENDER_RETRY, "AS2 sending not ready");
		return;
	}
	start_delivery(s, delivery, msg, done, token);
}

/* ---- asynchronous MDNs ---------------------------------------------- */

struct sent_lookup {
	const char *message_id;
	char mic[AS2_MIC_MAX];
	int found;
};

static int
find_sent(void *ud, const struct store_event *ev)
{
	struct sent_lookup *l = ud;
	json_t *j;
	const char *mid, *mic;

	if (strcmp(ev->kind, "as2.sent") != 0 || !ev->detail)
		return 0;
	j = json_loads(ev->detail, 0, NULL);
	mid = json_string_value(json_object_get(j, "message_id"));
	mic = json_string_value(json_object_get(j, "mic"));
	if (mid && mic && same_message_id(mid, l->message_id)) {
		snprintf(l->mic, sizeof l->mic, "%s", mic);
		l->found = 1;
	}
	json_decref(j);
	return 0;
}

static void
mdn_route(struct daemon_request *r, void *ctx)
{
	struct as2_sender *s = ctx;
	struct evbuffer *b = daemon_request_body(r);
	size_t len = evbuffer_get_length(b);
	const char *ct = daemon_request_header(r, "Content-Type");
	const char *from = daemon_request_header(r, "AS2-From");
	char name[MIME_AS2_NAME_MAX + 1], why[300];
	const struct partner *pt;
	as2_send_profile *prof = NULL;
	as2_error ae;
	as2_mdn mdn;
	struct store_message m;
	struct store_error e;
	struct store_event_filter f = {0};
	struct sent_lookup look = {0};
	unsigned char *body;
	int64_t id;

	if (!s->st || !s->ps) {
		daemon_reply_error(r, 503, "not ready");
		return;
	}
	if (len > SENDER_MDN_MAX) {
		daemon_reply_error(r, 413, "MDN too large");
		return;
	}
	if (!from || mime_as2_name_parse(from, name, NULL) != MIME_OK ||
	    !(pt = partner_set_find_as2(s->ps, name))) {
		daemon_reply_error(r, 403, "unknown AS2-From");
		return;
	}
	if (as2_send_profile_load(pt, 0, &prof, &ae) != AS2_OK) {
		daemon_reply_error(r, 403, ae.message);
		return;
	}
	body = evbuffer_pullup(b, -1);
	/* Parse once to learn which message it names; record_mdn parses
	 * again as it judges (MDNs are small). */
	if (as2_mdn_parse(ct, body, len, prof->their_certs, 0, 0, &mdn, &ae)
	    != AS2_OK) {
		log_warn("as2 async MDN refused", "partner", pt->id, "error",
		    ae.message, "correlation_id",
		    daemon_request_correlation_id(r), NULL);
		daemon_reply_error(r, 400, ae.message);
		as2_send_profile_free(prof);
		return;
	}
	id = as2_send_message_id_parse(mdn.original_message_id);
	if (id <= 0 || store_message_get(s->st, id, &m, &e) != STORE_OK ||
	    strcmp(m.partner, pt->id) != 0 || m.direction != STORE_OUT) {
		snprintf(why, sizeof why, "no message of ours is %s",
		    mdn.original_message_id);
		log_warn("as2 async MDN unmatched", "partner", pt->id,
		    "original_message_id", mdn.original_message_id,
		    "correlation_id", daemon_request_correlation_id(r), NULL);
		daemon_reply_error(r, 404, why);
		as2_send_profile_free(prof);
		return;
	}
	f.message_id = id;
	look.message_id = mdn.original_message_id;
	if (store_event_foreach(s->st, &f, find_sent, &look, &e) != STORE_OK ||
	    !look.found) {
		daemon_reply_error(r, 404, "no such sending of that message");
		as2_send_profile_free(prof);
		return;
	}
	if (strcmp(m.state, "delivered") == 0) {
		/* A repeat: keep it, change nothing. */
		event_add_msg(s, &m, "as2.mdn-repeat", json_pack("{s:s}",
		    "original_message_id", mdn.original_message_id));
	} else {
		record_mdn(s, &m, NULL, ct, body, len, prof,
		    mdn.original_message_id, look.mic);
	}
	as2_send_profile_free(prof);
	daemon_reply(r, 200, "text/plain", "MDN received\n", 13);
}

/* ---- partners and life cycle ------------------------------------------- */

static int
partners_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	char *errors = NULL;
	struct partner_set *ps;

	(void)ctx;
	*pending = NULL;
	/* No partner folder at all: nothing to send to, not an error (a
	 * gateway may only receive, or not be set up yet). */
	if (access(cfg->partners_dir, F_OK) != 0)
		return 0;
	ps = partner_set_load(cfg->partners_dir, NULL, NULL, &errors);
	if (!ps) {
		snprintf(err, errsize, "%s", errors ? errors : "partners");
		free(errors);
		return -1;
	}
	free(errors);
	*pending = ps;
	return 0;
}

static void
partners_commit(void *ctx, void *pending)
{
	struct as2_sender *s = ctx;

	if (s->ps)
		partner_set_unref(s->ps);
	s->ps = pending;
}

static void
partners_abort(void *ctx, void *pending)
{
	(void)ctx;
	if (pending)
		partner_set_unref(pending);
}

struct as2_sender *
as2_sender_new(struct daemon *d, char *err, size_t errsize)
{
	static const struct daemon_reload_hook hook = {
		"as2-send partners", partners_prepare, partners_commit,
		partners_abort
	};
	const struct config *cfg = daemon_config(d);
	struct as2_sender *s = calloc(1, sizeof *s);
	char host[64] = "node";
	void *ps = NULL;

	if (!s) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	s->d = d;
	s->base = daemon_base(d);
	{
		static const char *const labels[] = {"partner", "result", NULL};

		s->m_send = metrics_counter(daemon_metrics(d),
		    "edigate_as2_send_total", "Outbound AS2 attempts by "
		    "partner and result (delivered, mdn-failed, sent, retry, "
		    "mdn-timeout, "
		    "failed).", labels);
	}
	gethostname(host, sizeof host - 1);
	snprintf(s->worker, sizeof s->worker, "as2-%.40s-%ld", host,
	    (long)getpid());
	snprintf(s->workdir, sizeof s->workdir, "%s/as2-out", cfg->state_dir);
	/* Without a usable partner folder nothing is sent (the queue
	 * waits) but the daemon still serves; a reload can fix it. */
	if (partners_prepare(s, cfg, &ps, err, errsize) != 0)
		log_warn("as2 send: partners not loaded, nothing will be sent",
		    "error", err, NULL);
	else
		s->ps = ps;
	s->http = http_client_new(s->base, &(struct http_client_options){
	    .user_agent = "edigate/" PACKAGE_VERSION }, err, errsize);
	if (!s->http ||
	    daemon_route_add(d, "POST", "/as2/mdn", mdn_route, s) != 0 ||
	    daemon_reload_hook_add(d, &hook, s) != 0) {
		if (s->http)
			snprintf(err, errsize, "cannot register POST /as2/mdn");
		as2_sender_free(s);
		return NULL;
	}
	return s;
}

int
as2_sender_start(struct as2_sender *s, unsigned poll_ms)
{
	struct store_error e;
	struct timeval tv;

	if (poll_ms == AS2_SENDER_HOSTED) {
		s->hosted = 1;
		poll_ms = 60000;
	}
	if (poll_ms == 0)
		poll_ms = 500;
	tv.tv_sec = poll_ms / 1000;
	tv.tv_usec = (poll_ms % 1000) * 1000;
	if (mkdir(s->workdir, 0700) != 0 && errno != EEXIST) {
		log_error("as2 send: cannot create its work folder", "path",
		    s->workdir, "error", strerror(errno), NULL);
		return -1;
	}
	if (store_open(&s->st, daemon_config(s->d)->store_url, NULL, &e) != 0) {
		log_error("as2 send: cannot open the store", "error", e.message,
		    NULL);
		return -1;
	}
	srand((unsigned)(time(NULL) ^ getpid()));
	s->timer = event_new(s->base, -1, EV_PERSIST, tick, s);
	if (!s->timer || event_add(s->timer, &tv) != 0)
		return -1;
	{
		/* A quarter of the wait, between 200 ms and a minute: a
		 * message is marked at most that late. */
		unsigned ms = daemon_config(s->d)->as2_mdn_wait_ms;
		struct timeval wv;

		s->mdn_wait_us = (int64_t)ms * 1000;
		ms /= 4;
		ms = ms < 200 ? 200 : ms > 60000 ? 60000 : ms;
		wv.tv_sec = ms / 1000;
		wv.tv_usec = (ms % 1000) * 1000;
		s->wait_timer = event_new(s->base, -1, EV_PERSIST, wait_tick,
		    s);
		if (!s->wait_timer || event_add(s->wait_timer, &wv) != 0)
			return -1;
	}
	return 0;
}

void
as2_sender_free(struct as2_sender *s)
{
	if (!s)
		return;
	if (s->timer)
		event_free(s->timer);
	if (s->wait_timer)
		event_free(s->wait_timer);
	/* Open calls complete as cancelled; their claims expire. */
	http_client_free(s->http);
	if (s->ps)
		partner_set_unref(s->ps);
	if (s->st)
		store_close(s->st);
	free(s);
}
