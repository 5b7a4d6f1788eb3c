/* Names that appear on the wire besides the catalogue's fields: NATS headers,
 * the JetStream streams, reserved subjects. One place, so producers, consumers
 * and docs agree. */
#ifndef BUS_WIRE_H
#define BUS_WIRE_H

#define BUS_HDR_CONTENT_TYPE   "Content-Type"
#define BUS_CONTENT_MSGPACK    "application/msgpack"
#define BUS_CONTENT_JSON       "application/json"
#define BUS_HDR_SCHEMA         "Tb-Schema"
#define BUS_HDR_SCHEMA_VERSION "Tb-Schema-Version"
#define BUS_HDR_TRACE          "Tb-Trace-Id"
#define BUS_HDR_MSG_ID         "Nats-Msg-Id"
#define BUS_HDR_SVC_ERROR      "Nats-Service-Error"
#define BUS_HDR_SVC_ERROR_CODE "Nats-Service-Error-Code"
#define BUS_HDR_ERROR_STATUS   "Tb-Error" /* tb_status code string, e.g. "not_found" */
/* On dead letters: why and where the message came from. */
#define BUS_HDR_DLQ_REASON     "Tb-Dlq-Reason"
#define BUS_HDR_DLQ_SUBJECT    "Tb-Dlq-Subject"
#define BUS_HDR_DLQ_CONSUMER   "Tb-Dlq-Consumer"
#define BUS_HDR_DLQ_DELIVERIES "Tb-Dlq-Deliveries"

/* JetStream streams (DESIGN §3). Every actor ensures them at start. */
#define BUS_STREAM_ORDERS "ORDERS"
#define BUS_STREAM_FILLS  "FILLS"
#define BUS_STREAM_DLQ    "DLQ"
#define BUS_DLQ_PREFIX    "dlq."      /* dlq.<stream>.<consumer> */
#define BUS_FLOW_PREFIX   "bus.flow." /* bus.flow.<service>: tb_flow reports */

/* Texts attached beside an event (attach.h): the CSV of a backtest request
 * (api.backtests.create, data.csv) and of a replay (api.market.replay). */
#define BUS_ATTACH_CSV "csv"

#endif
