/*
 * commands - the subcommands of the edigate CLI.
 *
 * Each command takes the arguments after its name (argv[0] is the command
 * name) and returns the process exit status: 0 success, 1 the input was
 * processed and found wanting (invalid EDI, failed check), 2 usage or I/O
 * error. Commands print results on stdout and diagnostics on stderr.
 */
#ifndef EDIGATE_COMMANDS_H
#define EDIGATE_COMMANDS_H

#include "edi_reader.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

int cmd_dump(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_translate(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_partner(int argc, char **argv);
int cmd_rewrite(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_resend(int argc, char **argv);
int cmd_ack(int argc, char **argv);
int cmd_ack_track(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* `report reconcile`; argv[0] is "reconcile". */
int cmd_report_reconcile(int argc, char **argv);
/* --NAME T as UTC microseconds (2026-11-23 or 2026-11-23T10:00:00Z);
 * 0, or -1 after a message. */
int cmd_acks_time(const char *name, const char *value, int64_t *out);
int cmd_sftp_config(int argc, char **argv);
int cmd_sftp_push(int argc, char **argv);
int cmd_sftp_pull(int argc, char **argv);

/*
 * Streams one file ("-" is standard input) through the reader in 1 MiB
 * chunks and finishes it. Returns 0, or -1 after printing an I/O error
 * naming the file. A reader stopped by its callback is not an error.
 */
int cli_feed_file(const char *path, edi_reader *reader);

/* Prints "file:line:segment: CODE message" for a reader error on stderr. */
void cli_print_reader_error(const char *path, const edi_error *error);

/* The maps (--maps DIR, $EDIGATE_MAPS, ./maps, the data folder) and, when
 * partner_id is given, its profile applied to them (an unknown partner
 * gives a warning and the standard maps). 0, or -1 after printing why. */
struct map_loader;
struct xlate_maps;
struct partner;
int cli_open_maps(const char *maps_dir, const char *partners_dir,
    const char *partner_id, struct map_loader **loader, struct xlate_maps **maps,
    struct partner **profile);

/* given, else $env_name when set, else local when probe is readable,
 * else installed: how --maps and --partners find their folder. */
const char *cli_default_dir(const char *given, const char *env_name,
    const char *probe, const char *local, const char *installed);
/* The two uses of it: --maps (EDIGATE_MAPS, ./maps) and --partners
 * (EDIGATE_PARTNERS, ./partners), else the installed data folder. */
const char *cli_maps_dir(const char *given);
const char *cli_partners_dir(const char *given);
/* A partner id that can name a profile file: 1-64 of [a-z0-9_-], so it
 * never walks out of the partners folder. */
int cli_partner_id_ok(const char *id);

/*
 * Builds the outbound interchange for partner_id from the canonical JSON
 * document(s) in path, control numbers from st's per-partner counters.
 * On success 0, *edi malloc'd (*len bytes) and *ack_profile filled for
 * ack_track_expect(); -1 after printing why (*invalid set when the
 * document or profile is at fault rather than I/O).
 */
struct ack_track_profile;
struct store;
int cli_build_outbound(const char *path, const char *partner_id,
    const char *partners_dir, const char *maps_dir, struct store *st,
    char **edi, size_t *len, struct ack_track_profile *ack_profile,
    int *invalid);

/* 1 when the file's first non-blank byte opens a JSON object or array. */
int cli_is_json_file(const char *path);

#endif
