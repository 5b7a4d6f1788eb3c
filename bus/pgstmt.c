/* Server-side prepared statements behind bus_pg_exec (see pgstmt.h).
 *
 * PostgreSQL parses, analyses and plans every statement sent with
 * PQexecParams, and for the tick path's batch statements (CTEs, unnest of a
 * dozen arrays, ON CONFLICT ... DO UPDATE) that costs more server CPU than
 * running them: a profile of the chain benchmark showed most of PostgreSQL's
 * time in the parser and planner. A statement the connection has already
 * run is therefore prepared once (PQprepare) and from then on executed by
 * name, which skips parsing and, after PostgreSQL's first few custom plans,
 * planning.
 *
 * The cache belongs to the connection (libpq instance data of an event
 * procedure, freed by PQfinish) and a connection is used by one thread at a
 * time (store.h), so it needs no lock. A statement is prepared on its second
 * use: texts built for one call (a multi-row VALUES list of one size) would
 * otherwise fill the server's memory with statements never run again; such
 * one-use entries are the ones replaced when the table is full, and once it
 * is full of prepared statements the rest run unnamed as before.
 *
 * A prepared statement keeps the generic plan PostgreSQL chose after its
 * first custom plans, and keeps it until the table's statistics change
 * (autovacuum's ANALYZE). A plan chosen while a table was nearly empty (a
 * new database, the first seconds of a replay) scans it whole: the chain
 * benchmark's order statements were planned as hash joins over a sequential
 * scan of 99 estimated rows and kept that plan while orders grew to
 * thousands of rows, each batch reading the whole table. So a statement is
 * prepared again, under its slot's next name, after STMT_REPLAN_FIRST runs
 * and then after twice as many runs each time, up to STMT_REPLAN_MAX: the
 * planner sees the table's current size (it scales the statistics' density
 * by the relation's pages at planning time), at a cost of a few custom plans
 * per preparation. A statement that runs seldom while its tables grow fast
 * (trading-execution's order load runs once per order batch, on whichever
 * pooled connection is free, while the benchmark's replay adds thousands of
 * orders a second) is also prepared again when its plan is older than
 * STMT_REPLAN_AGE_FIRST_NS, then twice that, up to STMT_REPLAN_AGE_MAX_NS:
 * such a statement kept a sequential scan of `orders`, planned when the
 * table held a few rows, for the whole of a 100,000-tick replay. The old
 * name is deallocated in the pipeline's round trip, or in one of its own
 * outside pipeline mode. */
#include "pgstmt.h"

#include <libpq-events.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_SLOTS 64
/* Uses before a statement is prepared. */
#define STMT_PREPARE_AT 2
/* Runs of a prepared statement before it is prepared again (doubling). */
#define STMT_REPLAN_FIRST 16u
#define STMT_REPLAN_MAX   8192u
/* Age of a plan after which it is made again (doubling). */
#define STMT_REPLAN_AGE_FIRST_NS INT64_C(1000000000)
#define STMT_REPLAN_AGE_MAX_NS   INT64_C(64000000000)

typedef struct stmt_slot {
    uint64_t hash;
    char *sql; /* NULL: free slot */
    unsigned uses;
    unsigned gen;        /* its server-side name's generation (slot_name) */
    unsigned runs;       /* executions by name since this generation's preparation */
    unsigned replan_at;  /* runs after which it is prepared again; 0: not yet set */
    int64_t prepared_ns; /* monotonic time this generation was prepared */
    int64_t replan_age;  /* age after which it is prepared again; 0: not yet set */
    bool prepared;
    bool preparing; /* its PQsendPrepare is in the pipeline, result not read */
} stmt_slot;

/* A result the pipeline owes: one per statement or preparation sent. */
typedef struct pending {
    stmt_slot *prep; /* a preparation: its success marks the slot prepared */
    PGresult **out;  /* a statement whose result the caller keeps (bus_pg_send) */
} pending;

typedef struct stmt_cache {
    stmt_slot slot[STMT_SLOTS];
    unsigned victim; /* round-robin start for replacing one-use entries */
    pending *pend;   /* pipeline mode: results sent for and not read yet */
    size_t npend, cappend;
} stmt_cache;

static void cache_clear(stmt_cache *c) {
    for (int i = 0; i < STMT_SLOTS; i++) {
        free(c->slot[i].sql);
        memset(&c->slot[i], 0, sizeof c->slot[i]);
    }
    c->npend = 0;
}

static int stmt_event(PGEventId id, void *info, void *pass) {
    (void)pass;
    switch (id) {
    case PGEVT_REGISTER: {
        PGEventRegister *r = info;
        stmt_cache *c = calloc(1, sizeof *c);
        if (c == NULL) return 0; /* registration fails: the connection runs unprepared */
        return PQsetInstanceData(r->conn, stmt_event, c);
    }
    case PGEVT_CONNRESET: {
        /* A reset opens a new session: its prepared statements are gone. */
        PGEventConnReset *r = info;
        stmt_cache *c = PQinstanceData(r->conn, stmt_event);
        if (c) cache_clear(c);
        return 1;
    }
    case PGEVT_CONNDESTROY: {
        PGEventConnDestroy *d = info;
        stmt_cache *c = PQinstanceData(d->conn, stmt_event);
        if (c) {
            cache_clear(c);
            free(c->pend);
            free(c);
        }
        return 1;
    }
    default:
        return 1;
    }
}

bool bus_pgstmt_attach(PGconn *c) {
    return PQregisterEventProc(c, stmt_event, "tb_pgstmt", NULL) != 0;
}

/* FNV-1a: statement texts are code constants, not attacker-chosen keys. */
static uint64_t text_hash(const char *s) {
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++) h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
    return h;
}

/* The slot holding sql, or a slot claimed for it (free, or a one-use entry
 * taken over), or NULL when every slot holds a statement in use. */
static stmt_slot *slot_for(stmt_cache *c, const char *sql, uint64_t h) {
    stmt_slot *free_slot = NULL;
    for (int i = 0; i < STMT_SLOTS; i++) {
        stmt_slot *s = &c->slot[i];
        if (s->sql == NULL) {
            if (free_slot == NULL) free_slot = s;
        } else if (s->hash == h && strcmp(s->sql, sql) == 0) {
            return s;
        }
    }
    if (free_slot == NULL) {
        for (int k = 0; k < STMT_SLOTS && free_slot == NULL; k++) {
            stmt_slot *s = &c->slot[(c->victim + (unsigned)k) % STMT_SLOTS];
            if (!s->prepared && s->uses < STMT_PREPARE_AT) free_slot = s;
        }
        c->victim++;
        if (free_slot == NULL) return NULL;
        free(free_slot->sql);
        memset(free_slot, 0, sizeof *free_slot);
    }
    free_slot->sql = strdup(sql);
    if (free_slot->sql == NULL) return NULL;
    free_slot->hash = h;
    return free_slot;
}

#define NAME_MAX_LEN 32

static void slot_name(const stmt_cache *c, const stmt_slot *s, char name[NAME_MAX_LEN]) {
    snprintf(name, NAME_MAX_LEN, "tb_s%d_%u", (int)(s - c->slot), s->gen);
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Marks a slot's current generation as prepared now. */
static void mark_prepared(stmt_slot *s) {
    s->prepared_ns = mono_ns();
}

/* Whether a prepared statement is due to be prepared again: enough runs
 * or enough time since its preparation. */
static bool replan_due(stmt_slot *s) {
    if (s->replan_at == 0) s->replan_at = STMT_REPLAN_FIRST;
    if (s->replan_age == 0) s->replan_age = STMT_REPLAN_AGE_FIRST_NS;
    return s->runs >= s->replan_at || mono_ns() - s->prepared_ns >= s->replan_age;
}

/* Moves a due slot to its next generation: old gets the name to
 * deallocate; the slot is unprepared under its new name. */
static void next_generation(const stmt_cache *c, stmt_slot *s, char old[NAME_MAX_LEN]) {
    slot_name(c, s, old);
    s->gen++;
    s->runs = 0;
    s->replan_at = s->replan_at >= STMT_REPLAN_MAX / 2 ? STMT_REPLAN_MAX : s->replan_at * 2;
    s->replan_age =
        s->replan_age >= STMT_REPLAN_AGE_MAX_NS / 2 ? STMT_REPLAN_AGE_MAX_NS : s->replan_age * 2;
    s->prepared = false;
}

static char *deallocate_sql(const char *name, char buf[NAME_MAX_LEN + 16]) {
    snprintf(buf, NAME_MAX_LEN + 16, "DEALLOCATE %s", name);
    return buf;
}

PGresult *bus_pgstmt_exec(PGconn *conn, const char *sql, int nparams, const char *const *params) {
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    stmt_slot *s = c ? slot_for(c, sql, text_hash(sql)) : NULL;
    if (s == NULL) return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    char name[NAME_MAX_LEN];
    if (s->prepared && replan_due(s) && PQtransactionStatus(conn) != PQTRANS_INERROR) {
        char old[NAME_MAX_LEN], sql_buf[NAME_MAX_LEN + 16];
        next_generation(c, s, old);
        /* Deallocating a statement this session prepared does not fail; if
         * the connection did, the next call reports it. */
        PQclear(PQexec(conn, deallocate_sql(old, sql_buf)));
    }
    slot_name(c, s, name);
    if (!s->prepared) {
        if (++s->uses < STMT_PREPARE_AT || PQtransactionStatus(conn) == PQTRANS_INERROR)
            return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
        PGresult *p = PQprepare(conn, name, sql, nparams, NULL);
        /* A text that does not parse or analyse fails unnamed the same way
         * (and in a transaction, that failure already aborted it): its error
         * is the caller's result. It is tried again on its next use, since
         * what it names may exist by then. */
        if (p == NULL || PQresultStatus(p) != PGRES_COMMAND_OK) return p;
        PQclear(p);
        s->prepared = true;
        mark_prepared(s);
    }
    s->runs++;
    return PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
}

/* ---- pipeline mode (bus_pg_pipeline_begin, store.h) ----
 *
 * A statement is sent at once (libpq copies its parameters into its output
 * buffer) and its result is read at the next synchronisation point, so the
 * statements of a transaction that need no result cost one round trip
 * together instead of one each. */

bool bus_pgstmt_pipeline_ready(PGconn *conn) {
    return PQinstanceData(conn, stmt_event) != NULL;
}

/* Room for n more pending results. */
static bool reserve(stmt_cache *c, size_t n) {
    if (c->cappend - c->npend >= n) return true;
    size_t cap = c->cappend ? c->cappend * 2 : 16;
    while (cap - c->npend < n) cap *= 2;
    pending *p = realloc(c->pend, cap * sizeof *p);
    if (p == NULL) return false;
    c->pend = p;
    c->cappend = cap;
    return true;
}

bool bus_pgstmt_send(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     PGresult **out) {
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    if (out) *out = NULL;
    if (c == NULL) return false;
    /* Room for a deallocation, a preparation and the statement first:
     * nothing sent may go unaccounted. */
    if (!reserve(c, 3)) return false;
    stmt_slot *s = slot_for(c, sql, text_hash(sql));
    char name[NAME_MAX_LEN] = "";
    if (s != NULL) {
        if (s->prepared && replan_due(s)) {
            char old[NAME_MAX_LEN], sql_buf[NAME_MAX_LEN + 16];
            next_generation(c, s, old);
            /* Should the pipeline abort before it runs, the old statement
             * stays on the server under a name no longer used: one
             * statement for the session's lifetime, only after a failure. */
            if (!PQsendQueryParams(conn, deallocate_sql(old, sql_buf), 0, NULL, NULL, NULL, NULL,
                                   0))
                return false;
            c->pend[c->npend++] = (pending){.prep = NULL};
        }
        slot_name(c, s, name);
        if (!s->prepared && !s->preparing && ++s->uses >= STMT_PREPARE_AT) {
            if (!PQsendPrepare(conn, name, sql, nparams, NULL)) return false;
            s->preparing = true;
            mark_prepared(s);
            c->pend[c->npend++] = (pending){.prep = s};
        }
    }
    bool named = s != NULL && (s->prepared || s->preparing);
    if (named) s->runs++;
    int ok = named ? PQsendQueryPrepared(conn, name, nparams, params, NULL, NULL, 0)
                   : PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!ok) return false;
    c->pend[c->npend++] = (pending){.prep = NULL, .out = out};
    return true;
}

size_t bus_pgstmt_pending(PGconn *conn) {
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    return c ? c->npend : 0;
}

/* Reads one statement's results up to the NULL that ends them; the last
 * non-NULL one is returned (a statement sent with the extended protocol
 * yields exactly one). */
static PGresult *read_one(PGconn *conn) {
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(conn)) != NULL) {
        PQclear(last);
        last = r;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) break; /* not ours: out of step */
    }
    return last;
}

bool bus_pgstmt_sync(PGconn *conn, PGresult **last, PGresult **failed) {
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    *last = *failed = NULL;
    if (c == NULL) return false;
    bool synced = PQpipelineSync(conn) == 1;
    for (size_t i = 0; i < c->npend; i++) {
        PGresult *r = synced ? read_one(conn) : NULL;
        ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        bool ok = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK;
        const pending *p = &c->pend[i];
        if (p->prep != NULL) {
            p->prep->preparing = false;
            p->prep->prepared = ok;
        }
        if (r != NULL && !ok && *failed == NULL && es != PGRES_PIPELINE_ABORTED) {
            *failed = r; /* the first failure: the later ones follow from it */
        } else if (r != NULL && ok && p->out != NULL) {
            *p->out = r;
        } else if (r != NULL && ok && p->prep == NULL && i + 1 == c->npend) {
            *last = r;
        } else {
            PQclear(r);
        }
    }
    bool in_step = synced;
    if (synced) {
        PGresult *r = PQgetResult(conn); /* the synchronisation point's own */
        in_step = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
    }
    /* Kept results are all or nothing: a caller never reads half a
     * pipeline's answers as if the rest had run. */
    for (size_t i = 0; i < c->npend && (*failed != NULL || !in_step); i++)
        if (c->pend[i].out != NULL) {
            PQclear(*c->pend[i].out);
            *c->pend[i].out = NULL;
        }
    c->npend = 0;
    return in_step;
}
