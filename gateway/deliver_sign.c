/*
 * deliver_sign - the pure parts of deliver.h: idempotency keys, webhook
 * signatures, backoff, circuit breaker, status classes. Kept apart from
 * the queue worker so the unit tests and the CLI link them without the
 * event loop.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <jansson.h>
#include <time.h>

#include "deliver.h"

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
netstring(EVP_MD_CTX *md, const char *s)
{
	char len[24];
	size_t n = s ? strlen(s) : 0;

	snprintf(len, sizeof(len), "%zu:", n);
	EVP_DigestUpdate(md, len, strlen(len));
	if (n)
		EVP_DigestUpdate(md, s, n);
	EVP_DigestUpdate(md, ",", 1);
}

void
deliver_idempotency_key(const char *sender, const char *interchange,
    const char *group, const char *set, const char *target,
    const void *doc, size_t doclen, char out[DELIVER_KEY_MAX + 1])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	char dochex[2 * SHA256_DIGEST_LENGTH + 1];
	EVP_MD_CTX *md;

	SHA256(doc, doclen, d);
	hex(d, sizeof(d), dochex);
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		/* Only out of memory: fall back to the document hash alone,
		 * still stable for the same document. */
		snprintf(out, DELIVER_KEY_MAX + 1, "edg-%s", dochex);
		EVP_MD_CTX_free(md);
		return;
	}
	netstring(md, "edigate-idem-1");
	netstring(md, sender);
	netstring(md, interchange);
	netstring(md, group);
	netstring(md, set);
	netstring(md, target);
	netstring(md, dochex);
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	memcpy(out, "edg-", 4);
	hex(d, sizeof(d), out + 4);
}

static void
signature_hex(const char *secret, int64_t t, const void *body, size_t len,
    char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char ts[24];
	size_t tl;
	unsigned char *msg;

	/* The signed string is "<t>." followed by the body (deliver.h). */
	tl = (size_t)snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
	msg = malloc(tl + len + 1);
	if (msg == NULL) {
		out[0] = '\0';
		return;
	}
	memcpy(msg, ts, tl);
	if (len)
		memcpy(msg + tl, body, len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + len, mac,
	    &maclen) == NULL || maclen != SHA256_DIGEST_LENGTH) {
		free(msg);
		out[0] = '\0';
		return;
	}
	free(msg);
	hex(mac, maclen, out);
}

void
deliver_signature(const char *secret, int64_t t, const void *body,
    size_t len, char *out, size_t outsize)
{
	char mac[2 * SHA256_DIGEST_LENGTH + 1];

	signature_hex(secret, t, body, len, mac);
	snprintf(out, outsize, "t=%" PRId64 ",v1=%s", t, mac);
}

int
deliver_signature_check(const char *secret, const char *header,
    const void *body, size_t len, int64_t now_s, int64_t tolerance_s)
{
	char want[2 * SHA256_DIGEST_LENGTH + 1];
	const char *v;
	char *end;
	long long t;

	if (header == NULL || strncmp(header, "t=", 2) != 0)
		return 0;
	t = strtoll(header + 2, &end, 10);
	if (end == header + 2 || strncmp(end, ",v1=", 4) != 0)
		return 0;
	v = end + 4;
	if (strlen(v) != 2 * SHA256_DIGEST_LENGTH)
		return 0;
	if (t > now_s + tolerance_s || t < now_s - tolerance_s)
		return 0;
	signature_hex(secret, t, body, len, want);
	return want[0] != '\0' && CRYPTO_memcmp(want, v, sizeof(want) - 1) == 0;
}

int64_t
deliver_backoff_us(int attempt, int64_t base_us, int64_t max_us,
    double jitter, double u)
{
	int64_t wait = base_us;
	int i;

	if (attempt < 1)
		attempt = 1;
	for (i = 1; i < attempt && wait < max_us; i++)
		wait *= 2;
	if (wait > max_us)
		wait = max_us;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.999999;
	/* "Equal" style jitter downwards: the ceiling stays the documented
	 * backoff, so max_backoff is a real upper bound. */
	return wait - (int64_t)((double)wait * jitter * u);
}

int
deliver_breaker_allow(struct deliver_breaker *b, int64_t now_us,
    int64_t open_for_us)
{
	switch (b->state) {
	case DELIVER_BREAKER_CLOSED:
		return 1;
	case DELIVER_BREAKER_OPEN:
		if (now_us - b->opened_us < open_for_us)
			return 0;
		b->state = DELIVER_BREAKER_HALF_OPEN;
		b->probe_out = 1;
		return 1;
	case DELIVER_BREAKER_HALF_OPEN:
		/* One probe at a time decides for everyone. */
		if (b->probe_out)
			return 0;
		b->probe_out = 1;
		return 1;
	}
	return 0;
}

void
deliver_breaker_record(struct deliver_breaker *b, int success, int64_t now_us,
    int threshold)
{
	if (success) {
		b->state = DELIVER_BREAKER_CLOSED;
		b->failures = 0;
		b->probe_out = 0;
		return;
	}
	b->failures++;
	if (b->state == DELIVER_BREAKER_HALF_OPEN ||
	    (b->state == DELIVER_BREAKER_CLOSED && b->failures >= threshold)) {
		b->state = DELIVER_BREAKER_OPEN;
		b->opened_us = now_us;
	}
	b->probe_out = 0;
}

enum deliver_outcome
deliver_outcome_of_status(int status)
{
	if (status >= 200 && status < 300)
		return DELIVER_OK;
	if (status == 0 || status == 408 || status == 425 || status == 429 ||
	    status >= 500)
		return DELIVER_RETRY;
	return DELIVER_PERMANENT;
}


int
deliver_attempts_of(const char *last_error, int store_attempts)
{
	int n = 0;

	if (last_error == NULL || last_error[0] != '[' ||
	    sscanf(last_error, "[%d]", &n) != 1 || n < 0)
		return 0;
	return n > store_attempts ? 0 : n;
}

char *
deliver_cloudevent(const char *key, const char *sender,
    const char *document_type, const char *partner,
    const char *correlation_id, int64_t time_us, const void *doc,
    size_t doclen)
{
	json_t *o = json_object(), *data;
	char t[40], src[160], type[96];
	time_t secs = (time_t)(time_us / 1000000);
	struct tm tm;
	char *out;

	gmtime_r(&secs, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + strlen(t), sizeof(t) - strlen(t), ".%06dZ",
	    (int)(time_us % 1000000));
	snprintf(src, sizeof(src), "/edigate/%s", sender && sender[0] ? sender :
	    "edigate");
	snprintf(type, sizeof(type), "com.edigate.%s", document_type);
	json_object_set_new(o, "specversion", json_string("1.0"));
	json_object_set_new(o, "id", json_string(key));
	json_object_set_new(o, "source", json_string(src));
	json_object_set_new(o, "type", json_string(type));
	if (partner && partner[0])
		json_object_set_new(o, "subject", json_string(partner));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "datacontenttype",
	    json_string("application/json"));
	if (correlation_id && correlation_id[0])
		json_object_set_new(o, "correlationid",
		    json_string(correlation_id));
	data = json_loadb(doc, doclen, JSON_DECODE_ANY, NULL);
	if (data)
		json_object_set_new(o, "data", data);
	else {
		/* Not JSON (should not happen for canonical documents): keep
		 * the bytes rather than drop them. */
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		const unsigned char *p = doc;
		char *e = malloc(4 * ((doclen + 2) / 3) + 1);
		size_t i, o2 = 0;
		for (i = 0; e && i < doclen; i += 3) {
			unsigned v = (unsigned)p[i] << 16 | (i + 1 < doclen ?
			    (unsigned)p[i + 1] << 8 : 0) | (i + 2 < doclen ?
			    p[i + 2] : 0);
			e[o2++] = b64[v >> 18 & 63];
			e[o2++] = b64[v >> 12 & 63];
			e[o2++] = i + 1 < doclen ? b64[v >> 6 & 63] : '=';
			e[o2++] = i + 2 < doclen ? b64[v & 63] : '=';
		}
		if (e) {
			e[o2] = '\0';
			json_object_set_new(o, "data_base64", json_string(e));
			free(e);
		}
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

