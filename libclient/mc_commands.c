/*
 * mc_commands.c -- command lookup, subcommand resolution and key extraction
 * over the generated tables of mc_commands_gen.c (see mc_commands.h).
 *
 * Key extraction is a port of Redis 7.0's getKeysFromCommandWithSpecs()
 * (db.c), the function COMMAND GETKEYS and cluster routing use:
 *
 *   1. A command with at least one key spec not flagged NOT_KEY, none of
 *      them VARIABLE_FLAGS, runs getKeysUsingKeySpecs(): every spec in
 *      order, begin_search (index, or keyword searched from startfrom:
 *      forwards up to argc-2 when positive, backwards down to 2 when
 *      negative -- Redis's loop never looks at the last, resp. first,
 *      argument; a keyword not found skips the spec), then find_keys (range
 *      with lastkey < 0 counting from the end and limit dividing the rest,
 *      or keynum reading a strict integer count).  A range out of argv, a
 *      bad count, an UNKNOWN type or an INCOMPLETE spec (after its keys
 *      were found) fails the whole evaluation.  Keys are not de-duplicated.
 *   2. When that fails, or a spec is VARIABLE_FLAGS, Redis calls the
 *      command's getkeys_proc.  Which commands actually get there with
 *      7.0.15's COMMAND output:
 *
 *        SORT        specs 2 and 3 are "unknown" (BY/GET, STORE): always the
 *                    proc: the sort key, and the key after the last STORE
 *                    (options LIMIT, GET, BY skipped with their arguments).
 *        SORT_RO     spec 2 "unknown" (BY/GET): always the proc: argv[1].
 *        MIGRATE     spec 2 (KEYS ...) is INCOMPLETE: when KEYS is found, the
 *                    proc: the keys after KEYS when argv[3] is "", else none
 *                    (options AUTH pw, AUTH2 user pw skipped with their
 *                    arguments).
 *        SET,        spec VARIABLE_FLAGS (RO or RW depends on SET's GET
 *        BITFIELD    option, BITFIELD's subcommands): always the proc, which
 *                    returns argv[1] -- the position never varies.
 *        XREAD,      STREAMS keyword spec (range, limit 2) is complete; the
 *        XREADGROUP  proc runs only when the spec fails (fewer than two
 *                    arguments after STREAMS), and then finds no keys either.
 *        keynum      EVAL*, FCALL*, ZUNION/ZINTER/ZDIFF(STORE), ZINTERCARD,
 *        commands    SINTERCARD, LMPOP, BLMPOP, ZMPOP, BZMPOP: the spec fails
 *                    on a bad, zero or too large count; Redis's procs
 *                    (genericGetKeys) then return no keys.
 *
 *      GEORADIUS and GEORADIUSBYMEMBER have a proc too, but their STORE /
 *      STOREDIST keyword specs never fail (a keyword is never matched as the
 *      last argument), so Redis never calls it; neither do we.
 *
 * Where we differ from COMMAND GETKEYS, on purpose:
 *   - A malformed count (not a canonical integer, negative, larger than the
 *     arguments) gives -1.  Redis's fallback returns no keys, which
 *     COMMAND GETKEYS reports as an empty array for the no-mandatory-keys
 *     commands (EVAL s -1) -- a script with no keys to route by is not what
 *     the caller sent; and as the fallback reads the count with atoi(), it
 *     even finds keys for "EVAL s 2abc k1 k2" or "EVAL s 01 k", which EVAL
 *     itself rejects.  A count of exactly 0 is 0 keys like in Redis.
 *   - Redis compares keywords with strcasecmp(), so an argument with an
 *     embedded NUL ("STREAMS\0x") matches; we compare whole arguments.
 *   - Redis 7.0 reads argv[first + keynumidx] after checking only
 *     keynumidx < argc; we check the real index.
 *   - An unknown subcommand resolves to its container (keyless) where Redis
 *     reports an unknown command.
 * No key at all for a command that has key specs and is not
 * no-mandatory-keys is -1 (Redis: "Invalid arguments specified for
 * command").
 */
#include "mc_commands.h"

#include <limits.h>
#include <string.h>

/* ASCII lowercase of one byte; no locale. */
static inline unsigned
fold(unsigned char c)
{
    return c + ((unsigned)(c - 'A') < 26u ? 32u : 0u);
}

/* Does s[0..len) equal the lowercase lower[0..len), ignoring ASCII case? */
static inline int
eq_lower(const char *s, const char *lower, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (fold((unsigned char)s[i]) != (unsigned char)lower[i])
            return 0;
    return 1;
}

/* Is argument s (len bytes) the word w (any case), case-insensitively? */
static int
arg_is(const char *s, size_t len, const char *w, size_t wlen)
{
    size_t i;

    if (len != wlen)
        return 0;
    for (i = 0; i < len; i++)
        if (fold((unsigned char)s[i]) != fold((unsigned char)w[i]))
            return 0;
    return 1;
}

#define ARG_IS(k, lit) arg_is(argv[k], argvlen[k], lit, sizeof(lit) - 1)

const struct mc_cmd *
mc_cmd_lookup(const char *name, size_t len)
{
    uint32_t h;

    if (name == NULL || len == 0 || len > mc_cmd_max_name_len)
        return NULL;
    h = mc_cmd_hash(name, len) & mc_cmd_hash_mask;
    for (;;) {
        uint16_t idx = mc_cmd_hash_slots[h];
        const struct mc_cmd *c;

        if (idx == MC_CMD_HASH_EMPTY)
            return NULL;
        c = &mc_cmd_table[idx];
        if (c->name_len == len && eq_lower(name, c->name, len))
            return c;
        /* the generator leaves at least 3/4 of the slots empty: this ends */
        h = (h + 1) & mc_cmd_hash_mask;
    }
}

const struct mc_cmd *
mc_cmd_resolve(int argc, const char *const *argv, const size_t *argvlen)
{
    const struct mc_cmd *cmd;
    size_t i, plen;

    if (argc < 1 || argv == NULL || argvlen == NULL || argv[0] == NULL)
        return NULL;
    cmd = mc_cmd_lookup(argv[0], argvlen[0]);
    if (cmd == NULL || !(cmd->flags & MC_CMD_CONTAINER) || argc < 2 || argv[1] == NULL)
        return cmd;
    plen = (size_t)cmd->name_len + 1; /* "config|" */
    for (i = 0; i < cmd->n_subs; i++) {
        const struct mc_cmd *sub = &mc_cmd_table[cmd->sub_first + i];

        if (sub->name_len - plen == argvlen[1] && eq_lower(argv[1], sub->name + plen, argvlen[1]))
            return sub;
    }
    return cmd;
}

enum mc_class
mc_cmd_class(const struct mc_cmd *cmd)
{
    if (cmd != NULL && (cmd->flags & (MC_CMD_READONLY | MC_CMD_WRITE)) == MC_CMD_READONLY)
        return MC_CLASS_READ;
    return MC_CLASS_WRITE;
}

size_t
mc_cmd_count(void)
{
    return mc_cmd_table_len;
}

const struct mc_cmd *
mc_cmd_at(size_t i)
{
    return i < mc_cmd_table_len ? &mc_cmd_table[i] : NULL;
}

const struct mc_keyspec *
mc_keyspec_at(size_t i)
{
    return i < mc_keyspec_table_len ? &mc_keyspec_table[i] : NULL;
}

const char *
mc_cmd_server_version(void)
{
    return mc_cmd_gen_version;
}

/* ---- key extraction ------------------------------------------------------ */

/* The positions found so far: the caller's array and the full count. */
struct keyset {
    int *pos; /* caller's array */
    int max;  /* its capacity */
    int n;    /* keys found (may exceed max) */
};

/* Append position p; -1 when the count would overflow an int. */
static int
add_key(struct keyset *ks, long p)
{
    if (ks->n == INT_MAX)
        return -1;
    if (ks->n < ks->max)
        ks->pos[ks->n] = (int)p;
    ks->n++;
    return 0;
}

/*
 * A count argument as Redis's string2ll() + "numkeys < 0" accepts it:
 * "0", or a digit 1-9 followed by digits, nothing else (no sign, space or
 * leading zero).  Values beyond any argv are reported as LONG_MAX; they
 * fail the range check anyway.  1 when valid.
 */
static int
parse_count(const char *s, size_t len, long *out)
{
    long v = 0;
    size_t i;

    if (len == 0 || len >= 21)
        return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] < '1' || s[0] > '9')
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v < INT_MAX)
            v = v * 10 + (s[i] - '0');
    }
    *out = v < INT_MAX ? v : LONG_MAX;
    return 1;
}

/*
 * getKeysUsingKeySpecs() with GET_KEYSPEC_DEFAULT: 0 when every spec was
 * evaluated (keys in ks), -1 when one failed (ks holds garbage).
 */
static int
keys_from_specs(const struct mc_cmd *cmd, int argc, const char *const *argv,
                const size_t *argvlen, struct keyset *ks)
{
    size_t j;

    for (j = 0; j < cmd->n_specs; j++) {
        const struct mc_keyspec *s = &mc_keyspec_table[cmd->spec_first + j];
        long first = 0, last, step, i;

        if (s->flags & MC_KS_NOT_KEY)
            continue;

        if (s->bs_type == MC_KS_BS_INDEX) {
            first = s->bs_index;
        } else if (s->bs_type == MC_KS_BS_KEYWORD) {
            long sf = s->bs_startfrom;
            long start = sf > 0 ? sf : argc + sf;
            long end = sf > 0 ? argc - 1 : 1;

            for (i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1)
                    break;
                if (arg_is(argv[i], argvlen[i], s->keyword, s->keyword_len)) {
                    first = i + 1;
                    break;
                }
            }
            if (first == 0)
                continue; /* keyword not found: this spec has no keys */
        } else {
            return -1;
        }

        if (s->fk_type == MC_KS_FK_RANGE) {
            step = s->fk_step;
            if (s->fk_lastkey >= 0) {
                last = first + s->fk_lastkey;
            } else if (s->fk_limit == 0) {
                last = argc + s->fk_lastkey;
            } else {
                if (s->fk_lastkey != -1) /* Redis asserts */
                    return -1;
                last = first + ((argc - first) / s->fk_limit + s->fk_lastkey);
            }
        } else if (s->fk_type == MC_KS_FK_KEYNUM) {
            long idx = first + s->fk_keynumidx, numkeys;

            step = s->fk_step;
            if (s->fk_keynumidx >= argc || idx < 0 || idx >= argc)
                return -1;
            if (!parse_count(argv[idx], argvlen[idx], &numkeys))
                return -1;
            first += s->fk_firstkey;
            last = numkeys > argc ? LONG_MAX : first + numkeys - 1;
        } else {
            return -1;
        }

        if (last >= argc || last < first || first >= argc || first < 0 || step <= 0)
            return -1;
        for (i = first; i <= last; i += step)
            if (add_key(ks, i) < 0)
                return -1;

        /* after its keys were added, like Redis (for GET_KEYSPEC_RETURN_PARTIAL) */
        if (s->flags & MC_KS_INCOMPLETE)
            return -1;
    }
    return 0;
}

/* ---- the getkeys procs Redis falls back to (see the head comment) -------- */

/* A fallback: 0 with the keys in ks (possibly none), or -1. */
typedef int keys_proc(const struct mc_cmd *cmd, int argc, const char *const *argv,
                      const size_t *argvlen, struct keyset *ks);

/* SET, BITFIELD, SORT_RO: argv[1] is always the key (arity guarantees it). */
static int
proc_first_key(const struct mc_cmd *cmd, int argc, const char *const *argv,
               const size_t *argvlen, struct keyset *ks)
{
    (void)cmd;
    (void)argc;
    (void)argv;
    (void)argvlen;
    return add_key(ks, 1);
}

/* SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dst]: sortGetKeys(). */
static int
proc_sort(const struct mc_cmd *cmd, int argc, const char *const *argv, const size_t *argvlen,
          struct keyset *ks)
{
    long i, store = -1;

    (void)cmd;
    for (i = 2; i < argc; i++) {
        /* Redis's loop tests "limit", then "store" (when an argument follows),
         * then "get" and "by"; any other word is skipped alone */
        if (ARG_IS(i, "limit"))
            i += 2;
        else if (ARG_IS(i, "store") && i + 1 < argc)
            store = i + 1; /* the last STORE wins, like SORT itself */
        else if (ARG_IS(i, "get") || ARG_IS(i, "by"))
            i += 1;
    }
    if (add_key(ks, 1) < 0)
        return -1;
    return store < 0 ? 0 : add_key(ks, store);
}

/*
 * MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
 * [KEYS k...]: migrateGetKeys().  The options are skipped with their arguments
 * (a password may be "keys"); KEYS with a non-empty key argument is a syntax
 * error: no keys.
 */
static int
proc_migrate(const struct mc_cmd *cmd, int argc, const char *const *argv, const size_t *argvlen,
             struct keyset *ks)
{
    long i, first = 3, num = 1;

    (void)cmd;
    for (i = 6; i < argc; i++) {
        if (ARG_IS(i, "keys")) {
            if (argvlen[3] > 0) {
                num = 0;
            } else {
                first = i + 1;
                num = argc - first;
            }
            break;
        }
        if (ARG_IS(i, "auth"))
            i += 1;
        else if (ARG_IS(i, "auth2"))
            i += 2;
    }
    for (i = 0; i < num; i++)
        if (add_key(ks, first + i) < 0)
            return -1;
    return 0;
}

/* XREAD / XREADGROUP [BLOCK ms] [COUNT n] [GROUP g c] [NOACK] STREAMS k... id...: xreadGetKeys(). */
static int
proc_xread(const struct mc_cmd *cmd, int argc, const char *const *argv, const size_t *argvlen,
           struct keyset *ks)
{
    long i, streams = -1, num;

    (void)cmd;
    for (i = 1; i < argc; i++) {
        if (ARG_IS(i, "block") || ARG_IS(i, "count")) {
            i++;
        } else if (ARG_IS(i, "group")) {
            i += 2;
        } else if (ARG_IS(i, "noack")) {
            /* no argument */
        } else if (ARG_IS(i, "streams")) {
            streams = i;
            break;
        } else {
            break; /* syntax error */
        }
    }
    if (streams < 0)
        return -1;
    num = argc - streams - 1;
    if (num == 0 || num % 2 != 0)
        return -1;
    for (i = streams + 1; i < streams + 1 + num / 2; i++)
        if (add_key(ks, i) < 0)
            return -1;
    return 0;
}

/*
 * The keynum commands (genericGetKeys() in Redis): reached only when the
 * keynum spec failed.  A count of exactly 0 is no keys (Redis returns none,
 * dropping a ZUNIONSTORE destination too); anything else that fails the spec
 * is malformed: -1.
 */
static int
proc_keynum(const struct mc_cmd *cmd, int argc, const char *const *argv,
            const size_t *argvlen, struct keyset *ks)
{
    size_t j;

    (void)ks;
    for (j = 0; j < cmd->n_specs; j++) {
        const struct mc_keyspec *s = &mc_keyspec_table[cmd->spec_first + j];
        long idx, numkeys;

        if (s->fk_type != MC_KS_FK_KEYNUM)
            continue;
        if (s->bs_type != MC_KS_BS_INDEX)
            return -1;
        idx = (long)s->bs_index + s->fk_keynumidx;
        if (idx < 1 || idx >= argc || !parse_count(argv[idx], argvlen[idx], &numkeys))
            return -1;
        return numkeys == 0 ? 0 : -1;
    }
    return -1;
}

/* The commands with their own procs, by name (the slow path only). */
static const struct {
    const char *name; /* entry name */
    keys_proc *fn;    /* its fallback */
} procs[] = {
    {"sort", proc_sort},
    {"sort_ro", proc_first_key},
    {"migrate", proc_migrate},
    {"set", proc_first_key},
    {"bitfield", proc_first_key},
    {"xread", proc_xread},
    {"xreadgroup", proc_xread},
};

static keys_proc *
find_proc(const struct mc_cmd *cmd)
{
    size_t i;

    for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
        if (strcmp(procs[i].name, cmd->name) == 0)
            return procs[i].fn;
    return NULL;
}

int
mc_cmd_keys(const struct mc_cmd *cmd, int argc, const char *const *argv,
            const size_t *argvlen, int *pos, int maxpos)
{
    struct keyset ks = {pos, maxpos, 0};
    int has_keys = 0, varflags = 0, keynum = 0, rc;
    keys_proc *proc;
    size_t j;

    if (cmd == NULL || argc < 1 || argv == NULL || argvlen == NULL || maxpos < 0 ||
        (maxpos > 0 && pos == NULL))
        return -1;
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity)
        return -1;
    for (j = 0; j < cmd->n_specs; j++) {
        const struct mc_keyspec *s = &mc_keyspec_table[cmd->spec_first + j];

        has_keys |= !(s->flags & MC_KS_NOT_KEY);
        varflags |= (s->flags & MC_KS_VARIABLE_FLAGS) != 0;
        keynum |= s->fk_type == MC_KS_FK_KEYNUM;
    }
    if (!has_keys)
        return 0; /* no key specs (or channels only): a keyless command */

    rc = -1;
    if (!varflags)
        rc = keys_from_specs(cmd, argc, argv, argvlen, &ks);
    if (rc < 0) {
        ks.n = 0;
        proc = find_proc(cmd);
        if (proc != NULL)
            rc = proc(cmd, argc, argv, argvlen, &ks);
        else if (varflags) /* positions do not vary, only flags: use the specs */
            rc = keys_from_specs(cmd, argc, argv, argvlen, &ks);
        else if (keynum)
            rc = proc_keynum(cmd, argc, argv, argvlen, &ks);
        /* else: an unknown / incomplete spec we have no proc for */
    }
    if (rc < 0)
        return -1;
    if (ks.n == 0 && !(cmd->flags & MC_CMD_NO_MANDATORY_KEYS))
        return -1;
    return ks.n;
}
