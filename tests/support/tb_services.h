/* Services of the platform started by a test as child processes, and their
 * instances counted through the NATS micro protocol ($SRV.PING), so that a
 * test knows when the workers it started are up. */
#ifndef TB_SERVICES_H
#define TB_SERVICES_H

#include <stdbool.h>
#include <sys/types.h>

#include "tb_test.h"

/* Starts build/actors/<service>/tb-<service> with INSTANCE_ID=instance_id
 * and extra_env (one NAME=value, may be NULL) added to the environment,
 * output appended to log_path. */
pid_t tb_service_spawn(const char *service, const char *instance_id, const char *extra_env,
                       const char *log_path);

/* Instances of service that answer $SRV.PING within 300 ms and whose id
 * starts with id_prefix. Main thread only (it asserts). */
int tb_service_count(bus_conn *conn, const char *service, const char *id_prefix);

/* Waits until exactly want such instances answer; false after timeout_ms. */
bool tb_service_wait(bus_conn *conn, const char *service, const char *id_prefix, int want,
                     int64_t timeout_ms);

/* Starts one instance of each of services[0..n) (instance "<tag>-<first 6
 * letters of the service>", env[i] its extra_env, env may be NULL) into
 * pids, and waits until each answers (asserts, naming log_path). Call from
 * a test body: a failure there still runs the teardown. */
void tb_services_start(bus_conn *conn, const char *const *services, const char *const *env, int n,
                       const char *tag, const char *log_path, pid_t *pids);
/* SIGTERM to every pid > 0 of pids[0..n), then waits for each (20 s). */
void tb_services_stop(pid_t *pids, int n);

/* Asks market-data (api.market.replay) to replay the file path in format
 * ("ticks", "closes") as feed source at speed (0: as fast as the chain
 * takes it); asserts that it started. Returns the monotonic time of the
 * request, from which a test times the replay. */
int64_t tb_replay_start(bus_conn *conn, const char *path, const char *format, const char *source,
                        uint64_t speed);

#endif
