/*
 * test_util - helpers shared by the unit tests (see test_util.h).
 */
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *
test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[size] = '\0';
	*len = (size_t)size;
	return buf;
}

const char *
test_srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s && *s ? s : ".";
}

const char *
test_corpus_dir(void)
{
	static char path[4096];
	const char *env = getenv("EDIGATE_CORPUS");
	struct stat st;

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else
		snprintf(path, sizeof(path), "%s/../shared/corpus",
		    test_srcdir());
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return path;
}

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t
walk(const char *dir, const char *suffix, char ***paths, size_t count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t slen = strlen(suffix);

	if (d == NULL)
		return count;
	while ((e = readdir(d)) != NULL) {
		char full[4096];
		struct stat st;
		size_t nlen = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
		if (stat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			count = walk(full, suffix, paths, count);
		} else if (S_ISREG(st.st_mode) && nlen >= slen &&
		    strcmp(e->d_name + nlen - slen, suffix) == 0) {
			*paths = realloc(*paths, (count + 1) * sizeof(char *));
			(*paths)[count++] = strdup(full);
		}
	}
	closedir(d);
	return count;
}

size_t
test_list_files(const char *dir, const char *suffix, char ***paths,
    size_t count)
{
	size_t start = count;

	count = walk(dir, suffix, paths, count);
	if (count > start)
		qsort(*paths + start, count - start, sizeof(char *),
		    compare_paths);
	return count;
}

void
test_free_list(char **paths, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(paths[i]);
	free(paths);
}
