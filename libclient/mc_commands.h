/*
 * mc_commands.h -- the Redis command table of libmarshal-shm: what a command
 * is (read or write, blocking, admin ...) and where its keys are.
 *
 * The router needs two facts about every command it sends: its class (may it
 * go to a replica?) and its key positions (which shard owns it?).  Both come
 * from the server itself: marshal-gencmd (libclient/gen/mc_gencmd.c) runs
 * COMMAND on a live redis-server and writes mc_commands_gen.c, a sorted table
 * of every command and subcommand with its flags and key specifications, and
 * a static hash table over the top-level names.  mc_commands.c holds the
 * hand-written part: lookup, resolution of subcommands and the key-spec
 * interpreter, which follows Redis 7.0's getKeysFromCommandWithSpecs() (db.c)
 * including the commands whose specs are not enough (see mc_commands.c).
 *
 * Internal to libclient (mc_ prefix); nothing here is public API.  Every
 * function is thread-safe: the tables are constant.
 */
#ifndef MC_COMMANDS_H
#define MC_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Command flags (struct mc_cmd.flags).  The first group mirrors the flags
 * COMMAND reports; MC_CMD_CONTAINER, MC_CMD_SUBCOMMAND and the two tip bits
 * are derived by the generator.  Values are fixed: append, never renumber.
 */
#define MC_CMD_READONLY          0x0001u   /* "readonly" */
#define MC_CMD_WRITE             0x0002u   /* "write" */
#define MC_CMD_MOVABLEKEYS       0x0004u   /* "movablekeys": keys not at fixed positions */
#define MC_CMD_ADMIN             0x0008u   /* "admin" */
#define MC_CMD_PUBSUB            0x0010u   /* "pubsub" */
#define MC_CMD_NOSCRIPT          0x0020u   /* "noscript" */
#define MC_CMD_BLOCKING          0x0040u   /* "blocking" */
#define MC_CMD_DENYOOM           0x0080u   /* "denyoom" */
#define MC_CMD_CONTAINER         0x0100u   /* has subcommands (CONFIG, OBJECT ...) */
#define MC_CMD_NONDETERMINISTIC  0x0200u   /* tip "nondeterministic_output" */
#define MC_CMD_NO_MULTI          0x0400u   /* "no_multi" */
#define MC_CMD_LOADING           0x0800u   /* "loading" */
#define MC_CMD_STALE             0x1000u   /* "stale" */
#define MC_CMD_FAST              0x2000u   /* "fast" */
#define MC_CMD_NONDET_ORDER      0x4000u   /* tip "nondeterministic_output_order" */
#define MC_CMD_NO_MANDATORY_KEYS 0x8000u   /* "no_mandatory_keys" (EVAL, FCALL ...) */
#define MC_CMD_SKIP_MONITOR      0x10000u  /* "skip_monitor" */
#define MC_CMD_SKIP_SLOWLOG      0x20000u  /* "skip_slowlog" */
#define MC_CMD_ASKING            0x40000u  /* "asking" */
#define MC_CMD_NO_AUTH           0x80000u  /* "no_auth" */
#define MC_CMD_ALLOW_BUSY        0x100000u /* "allow_busy" */
#define MC_CMD_NO_ASYNC_LOADING  0x200000u /* "no_async_loading" */
#define MC_CMD_MODULE            0x400000u /* "module": a module's command */
#define MC_CMD_SUBCOMMAND        0x800000u /* entry is "parent|sub" */

/*
 * Key-spec flags (struct mc_keyspec.flags), the spellings COMMAND reports
 * in brackets.  Values are ours (not Redis's CMD_KEY_* bits).
 */
#define MC_KS_RO             0x0001u /* "RO": read only */
#define MC_KS_RW             0x0002u /* "RW": read and modify */
#define MC_KS_OW             0x0004u /* "OW": overwrite without reading */
#define MC_KS_RM             0x0008u /* "RM": delete */
#define MC_KS_ACCESS         0x0010u /* "access": returns / copies user data */
#define MC_KS_UPDATE         0x0020u /* "update": updates data */
#define MC_KS_INSERT         0x0040u /* "insert": adds data */
#define MC_KS_DELETE         0x0080u /* "delete": removes data */
#define MC_KS_NOT_KEY        0x0100u /* "not_key": a channel, not a key (SPUBLISH) */
#define MC_KS_INCOMPLETE     0x0200u /* "incomplete": may miss keys */
#define MC_KS_VARIABLE_FLAGS 0x0400u /* "variable_flags": flags depend on the arguments */

/* How a key spec finds its starting point (struct mc_keyspec.bs_type). */
enum mc_ks_bs {
    MC_KS_BS_UNKNOWN = 0, /* "unknown": the spec cannot find its keys */
    MC_KS_BS_INDEX = 1,   /* "index": a fixed argv position */
    MC_KS_BS_KEYWORD = 2  /* "keyword": the argument after a keyword */
};

/* How a key spec finds the keys from there (struct mc_keyspec.fk_type). */
enum mc_ks_fk {
    MC_KS_FK_UNKNOWN = 0, /* "unknown" */
    MC_KS_FK_RANGE = 1,   /* "range": lastkey / keystep / limit */
    MC_KS_FK_KEYNUM = 2   /* "keynum": a count argument, then the keys */
};

/*
 * One key specification as COMMAND reports it (Redis 7 "key specs").  Only
 * the fields of the spec's types are meaningful; the others are 0.
 */
struct mc_keyspec {
    const char *keyword;   /* ro: KEYWORD: the keyword as reported (any case), else NULL */
    uint16_t flags;        /* ro: MC_KS_* */
    uint8_t bs_type;       /* ro: enum mc_ks_bs */
    uint8_t fk_type;       /* ro: enum mc_ks_fk */
    uint16_t keyword_len;  /* ro: KEYWORD: strlen(keyword) */
    int16_t bs_index;      /* ro: INDEX: argv position to start at */
    int16_t bs_startfrom;  /* ro: KEYWORD: where the search starts; < 0 counts from
                            * the end and searches backwards */
    int16_t fk_lastkey;    /* ro: RANGE: last key relative to the start; < 0 counts
                            * from the end of argv */
    int16_t fk_step;       /* ro: RANGE and KEYNUM: distance between keys */
    int16_t fk_limit;      /* ro: RANGE with lastkey -1: keys take 1/limit of the rest
                            * (XREAD: 2); 0 = no limit */
    int16_t fk_keynumidx;  /* ro: KEYNUM: count argument, relative to the start */
    int16_t fk_firstkey;   /* ro: KEYNUM: first key, relative to the start */
};

/*
 * One command or subcommand.  Subcommands ("config|get") follow their
 * container in the table, sorted; [sub_first, sub_first + n_subs) is that
 * range.  Key specs of an entry are [spec_first, spec_first + n_specs) in
 * mc_keyspec_table, in COMMAND's order (which matters).
 */
struct mc_cmd {
    const char *name;       /* ro: lowercase; "config|get" for subcommands */
    uint16_t name_len;      /* ro: strlen(name) */
    int16_t arity;          /* ro: Redis arity: > 0 exact, < 0 minimum (argv[0] counts) */
    uint32_t flags;         /* ro: MC_CMD_* */
    int16_t first, last, step; /* ro: legacy key range (first key, last key, step) */
    uint16_t spec_first, n_specs; /* ro: into mc_keyspec_table */
    uint16_t sub_first, n_subs;   /* ro: into the command table (containers) */
};

/*
 * The hash of a command name, case-insensitive (ASCII letters only, no
 * locale): FNV-1a over the lowercased bytes, then a final mix so that the
 * low bits used as the slot spread well.  Shared by the generator, which
 * builds the table, and mc_cmd_lookup(), which probes it.
 */
static inline uint32_t
mc_cmd_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        uint32_t c = (unsigned char)s[i];

        c += (uint32_t)(c - 'A' < 26u) << 5; /* 'A'..'Z' -> 'a'..'z' */
        h = (h ^ c) * 16777619u;
    }
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

/*
 * Look up a top-level command by name (len bytes, need not be
 * NUL-terminated), case-insensitively.  Returns the entry, or NULL when the
 * name is unknown.  "config|get" is not a top-level name: use
 * mc_cmd_resolve() for subcommands.
 */
const struct mc_cmd *mc_cmd_lookup(const char *name, size_t len);

/*
 * Resolve a command line to its most specific entry: for a container with
 * argc >= 2 the "name|sub" entry matching argv[1] (case-insensitively) when
 * there is one, else the container itself.  argvlen[i] is the length of
 * argv[i].  Returns NULL when argc < 1 or argv[0] is unknown.
 */
const struct mc_cmd *mc_cmd_resolve(int argc, const char *const *argv, const size_t *argvlen);

/* Routing class of a command. */
enum mc_class {
    MC_CLASS_READ = 0, /* may be served by a replica */
    MC_CLASS_WRITE = 1 /* must go to the master */
};

/*
 * The routing class of cmd: MC_CLASS_READ only when it is flagged READONLY
 * and not WRITE; everything else, and an unknown command (NULL), is
 * MC_CLASS_WRITE (PING, PUBLISH, EVAL and CONFIG GET included: no read flag,
 * so no replica).
 */
enum mc_class mc_cmd_class(const struct mc_cmd *cmd);

/*
 * The argv positions of the keys of a command line, in order, as Redis 7.0
 * finds them (getKeysFromCommandWithSpecs(): the key specs, and for the few
 * commands whose specs are not enough the same fallbacks).  cmd is the entry
 * mc_cmd_resolve() returned for argv.  Writes at most maxpos positions to pos
 * (pos may be NULL when maxpos is 0).
 *
 * Returns the number of keys, which may exceed maxpos (call again with a
 * bigger array); 0 for a command without keys (or a no-mandatory-keys
 * command such as EVAL with numkeys 0); -1 when the keys cannot be
 * determined: cmd NULL, arity violated, a malformed or too large numkeys,
 * a spec Redis cannot evaluate without a fallback we have, or no key at all
 * where the command needs one (Redis's "Invalid arguments specified for
 * command" from COMMAND GETKEYS).  Positions may repeat when specs overlap
 * (Redis does not de-duplicate either).
 */
int mc_cmd_keys(const struct mc_cmd *cmd, int argc, const char *const *argv,
                const size_t *argvlen, int *pos, int maxpos);

/* Number of entries (commands and subcommands) in the table. */
size_t mc_cmd_count(void);

/* The i-th entry (table order: sorted, subcommands after their container),
 * or NULL when i >= mc_cmd_count(). */
const struct mc_cmd *mc_cmd_at(size_t i);

/* The i-th key spec, or NULL when out of range (for tests and tools). */
const struct mc_keyspec *mc_keyspec_at(size_t i);

/* The redis-server version the table was generated from ("7.0.15"). */
const char *mc_cmd_server_version(void);

/*
 * The generated tables (mc_commands_gen.c).  Internal to mc_commands.c and
 * the tests; use the functions above.
 */
extern const struct mc_cmd mc_cmd_table[];        /* every entry, table order */
extern const size_t mc_cmd_table_len;             /* entries in mc_cmd_table */
extern const struct mc_keyspec mc_keyspec_table[];/* every key spec */
extern const size_t mc_keyspec_table_len;         /* entries in mc_keyspec_table */
extern const uint16_t mc_cmd_hash_slots[];        /* top-level index or MC_CMD_HASH_EMPTY */
extern const uint32_t mc_cmd_hash_mask;           /* slots - 1 (a power of two minus 1) */
extern const uint16_t mc_cmd_max_name_len;        /* longest top-level name */
extern const char mc_cmd_gen_version[];           /* redis_version of the source server */

#define MC_CMD_HASH_EMPTY 0xffffu /* an empty slot of mc_cmd_hash_slots */

#endif /* MC_COMMANDS_H */
