/*
 * test_util - helpers shared by the unit tests: reading whole files,
 * listing fixture and corpus files, finding the source tree.
 */
#ifndef EDIGATE_TEST_UTIL_H
#define EDIGATE_TEST_UTIL_H

#include <stddef.h>

/* Reads a whole file; returns a malloc'ed buffer (NUL-terminated, *len
 * excludes the NUL) or NULL. */
char *test_read_file(const char *path, size_t *len);

/* $top_srcdir, or "." when unset. */
const char *test_srcdir(void);

/* The corpus folder (EDIGATE_CORPUS or $top_srcdir/../shared/corpus), or
 * NULL when it does not exist. */
const char *test_corpus_dir(void);

/* Appends to *paths (malloc'ed array of malloc'ed strings) every regular
 * file under dir whose name ends in suffix, recursively, sorted. Returns the
 * new count. */
size_t test_list_files(const char *dir, const char *suffix, char ***paths,
    size_t count);
void test_free_list(char **paths, size_t count);

#endif
