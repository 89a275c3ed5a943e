/*
 * map_value - checking and converting one element value by its map rule.
 *
 * OWNS
 *   The element types of X12 (N0-N9, R, ID, AN, DT, TM, B) and EDIFACT
 *   (a, n, an) with their length rules, and the conversions between EDI
 *   text and canonical text: code lists, dates and times to ISO 8601,
 *   implied decimals, the EDIFACT decimal mark. Numbers stay decimal
 *   strings from end to end; nothing here goes through a float.
 *
 * NEVER
 *   Allocates, or writes more than the capacity it is given.
 */
#ifndef EDIGATE_MAP_VALUE_H
#define EDIGATE_MAP_VALUE_H

#include <stddef.h>

#include "map.h"
#include "map_xlate.h"

/* 0 when the value follows the rule, else the issue it raises. decimal is
 * the interchange's decimal mark. */
map_issue_kind map_value_check(const map_value *v, const char *s, size_t len,
    char decimal);

/* EDI text -> canonical text. Returns the length, or -1 when the value
 * cannot be converted (it then travels raw). */
long map_value_to_canonical(const map_value *v, const char *s, size_t len,
    char *out, size_t cap, char decimal);

/* Canonical text -> EDI text, the inverse of the above. */
long map_value_to_edi(const map_value *v, const char *s, size_t len,
    char *out, size_t cap, char decimal);

const char *map_value_type_name(const map_value *v);

#endif
