/*
 * partner_set - the loaded partner profiles. See partner_set.h.
 */
#include "config.h"

#include "partner_set.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partner.h"

struct partner_set {
	int refs;                /* atomic */
	partner **list;
	size_t count;
	map_loader *loader;
};

static void
append(char **text, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t old = *text ? strlen(*text) : 0;
	char *t;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	t = realloc(*text, old + strlen(line) + 2);
	if (t == NULL)
		return;
	memcpy(t + old, line, strlen(line) + 1);
	*text = t;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
set_free(struct partner_set *ps)
{
	for (size_t i = 0; i < ps->count; i++)
		partner_free(ps->list[i]);
	free(ps->list);
	if (ps->loader)
		map_loader_free(ps->loader);
	free(ps);
}

struct partner_set *
partner_set_load(const char *partners_dir, const char *xsd_path,
    const char *maps_dir, char **errors)
{
	struct partner_set *ps;
	char xsd[4096], path[8192];
	char **names = NULL;
	size_t nnames = 0;
	char *report = NULL;
	DIR *dir;
	struct dirent *de;

	*errors = NULL;
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		append(errors, "%s:0: out of memory\n", partners_dir);
		return NULL;
	}
	ps->refs = 1;
	if (xsd_path == NULL) {
		snprintf(xsd, sizeof(xsd), "%s/partner.xsd", partners_dir);
		xsd_path = xsd;
	}
	if (maps_dir != NULL) {
		char mxsd[4096], *lerr = NULL;
		snprintf(mxsd, sizeof(mxsd), "%s/map.xsd", maps_dir);
		/* Without the map schema, overrides are not checked here;
		 * the translator still refuses a broken one per message. */
		ps->loader = map_loader_new(mxsd, &lerr);
		free(lerr);
	}
	dir = opendir(partners_dir);
	if (dir == NULL && errno == ENOENT)
		return ps;      /* no folder yet: no partners, a valid set */
	if (dir == NULL) {
		append(errors, "%s:0: cannot open the partner folder\n",
		    partners_dir);
		set_free(ps);
		return NULL;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name);
		char **t;
		/* Profiles are <id>.xml with the id's characters; override
		 * files (acme-retail.850.xml) carry a second dot. */
		if (n < 5 || strcmp(de->d_name + n - 4, ".xml") != 0 ||
		    memchr(de->d_name, '.', n - 4) != NULL ||
		    de->d_name[0] == '.')
			continue;
		t = realloc(names, (nnames + 1) * sizeof(*t));
		if (t == NULL)
			break;
		names = t;
		names[nnames++] = strdup(de->d_name);
	}
	closedir(dir);
	/* An empty folder leaves names NULL, which qsort must not see. */
	if (nnames > 0)
		qsort(names, nnames, sizeof(*names), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		char *perr = NULL;
		partner *p, **t;

		snprintf(path, sizeof(path), "%s/%s", partners_dir, names[i]);
		p = partner_load(xsd_path, ps->loader, path, &perr);
		if (p == NULL) {
			append(&report, "%s", perr ? perr : "");
			if (perr == NULL)
				append(&report, "%s:0: cannot load\n", path);
			free(perr);
			continue;
		}
		free(perr);
		for (size_t k = 0; k < ps->count; k++) {
			if (strcmp(ps->list[k]->id, p->id) == 0)
				append(&report, "%s:1: partner id %s is also "
				    "used by %s\n", path, p->id,
				    ps->list[k]->file);
			if (p->as2 && ps->list[k]->as2 &&
			    strcmp(p->as2->id, ps->list[k]->as2->id) == 0)
				append(&report, "%s:%u: AS2 name \"%s\" is "
				    "also used by %s\n", path, p->as2->line,
				    p->as2->id, ps->list[k]->file);
		}
		t = realloc(ps->list, (ps->count + 1) * sizeof(*t));
		if (t == NULL) {
			partner_free(p);
			append(&report, "%s:0: out of memory\n", path);
			continue;
		}
		ps->list = t;
		ps->list[ps->count++] = p;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	if (report != NULL) {
		*errors = report;
		set_free(ps);
		return NULL;
	}
	return ps;
}

struct partner_set *
partner_set_ref(struct partner_set *ps)
{
	if (ps)
		__atomic_add_fetch(&ps->refs, 1, __ATOMIC_ACQ_REL);
	return ps;
}

void
partner_set_unref(struct partner_set *ps)
{
	if (ps && __atomic_sub_fetch(&ps->refs, 1, __ATOMIC_ACQ_REL) == 0)
		set_free(ps);
}

size_t
partner_set_count(const struct partner_set *ps)
{
	return ps ? ps->count : 0;
}

const struct partner *
partner_set_at(const struct partner_set *ps, size_t i)
{
	return ps && i < ps->count ? ps->list[i] : NULL;
}

const struct partner *
partner_set_find(const struct partner_set *ps, const char *id)
{
	for (size_t i = 0; ps && i < ps->count; i++)
		if (strcmp(ps->list[i]->id, id) == 0)
			return ps->list[i];
	return NULL;
}

const struct partner *
partner_set_find_as2(const struct partner_set *ps, const char *as2_name)
{
	for (size_t i = 0; ps && i < ps->count; i++)
		if (ps->list[i]->as2 && strcmp(ps->list[i]->as2->id,
		    as2_name) == 0)
			return ps->list[i];
	return NULL;
}
