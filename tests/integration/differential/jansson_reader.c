/* A test upstream for tests/integration/differential.test.mjs: libevent's
 * evhttp serves HTTP, jansson reads the body with json_loadb and its default
 * flags (a duplicate key: the last one wins), ignoring any charset, as a C
 * MCP server built on these two libraries would. For every request it prints
 * one JSON line on stdout with what it read: the HTTP method, X-Request-Id,
 * the first Mcp-Session-Id / X-MCP-Subject / MCP-Protocol-Version / Mcp-Method
 * / Mcp-Name (evhttp_find_header returns the first copy), and the JSON-RPC
 * messages (method and, for tools/call, params.name). It answers initialize
 * with a new Mcp-Session-Id and everything else with an empty result.
 * Prints "listening on 127.0.0.1:<port>" on stderr once it accepts. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long next_session = 0;
static unsigned long session_salt = 0;

/* The first copy of a header as a JSON string; a value that is not UTF-8 is
 * recorded as its hex bytes (still a value the reader saw), absent as null. */
static json_t* header_or_null(struct evkeyvalq* headers, const char* name) {
  const char* value = evhttp_find_header(headers, name);
  if (!value) return json_null();
  json_t* text = json_stringn(value, strlen(value));
  if (text) return text;
  char hex[2 * 256 + 16] = "non-UTF-8 hex:";
  size_t at = strlen(hex);
  for (const unsigned char* p = (const unsigned char*)value; *p && at + 3 < sizeof hex; ++p) {
    at += (size_t)snprintf(hex + at, sizeof hex - at, "%02x", *p);
  }
  return json_string(hex);
}

/* A copy of the value as read (a non-string method is recorded as what it
 * is), or null when absent. */
static json_t* copy_or_null(json_t* value) {
  return value ? json_deep_copy(value) : json_null();
}

static json_t* describe_message(json_t* message, int* is_initialize) {
  json_t* out = json_object();
  json_t* method = json_is_object(message) ? json_object_get(message, "method") : NULL;
  json_object_set_new(out, "method", copy_or_null(method));
  json_t* tool = NULL;
  if (json_is_string(method) && strcmp(json_string_value(method), "tools/call") == 0) {
    json_t* params = json_object_get(message, "params");
    if (json_is_object(params)) tool = json_object_get(params, "name");
  }
  json_object_set_new(out, "tool", copy_or_null(tool));
  if (json_is_string(method) && strcmp(json_string_value(method), "initialize") == 0)
    *is_initialize = 1;
  return out;
}

static const char* method_name(enum evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "OTHER";
}

static void on_request(struct evhttp_request* req, void* arg) {
  (void)arg;
  struct evkeyvalq* in = evhttp_request_get_input_headers(req);
  struct evbuffer* body = evhttp_request_get_input_buffer(req);
  size_t length = evbuffer_get_length(body);
  const char* bytes = (const char*)evbuffer_pullup(body, -1);

  json_t* record = json_object();
  json_object_set_new(record, "httpMethod",
                      json_string(method_name(evhttp_request_get_command(req))));
  json_object_set_new(record, "requestId", header_or_null(in, "X-Request-Id"));
  json_object_set_new(record, "session", header_or_null(in, "Mcp-Session-Id"));
  json_object_set_new(record, "identity", header_or_null(in, "X-MCP-Subject"));
  json_object_set_new(record, "protocolVersion", header_or_null(in, "MCP-Protocol-Version"));
  json_object_set_new(record, "mcpMethod", header_or_null(in, "Mcp-Method"));
  json_object_set_new(record, "mcpName", header_or_null(in, "Mcp-Name"));
  json_object_set_new(record, "bodyBytes", json_integer((json_int_t)length));

  int is_initialize = 0;
  json_t* messages = json_array();
  if (length > 0) {
    json_error_t error;
    json_t* parsed = json_loadb(bytes ? bytes : "", length, 0, &error);
    if (!parsed) {
      json_object_set_new(record, "parseError", json_string(error.text));
    } else if (json_is_array(parsed)) {
      size_t i;
      json_t* item;
      json_array_foreach(parsed, i, item) {
        json_array_append_new(messages, describe_message(item, &is_initialize));
      }
    } else {
      json_array_append_new(messages, describe_message(parsed, &is_initialize));
    }
    json_decref(parsed);
  }
  json_object_set_new(record, "messages", messages);

  char* line = json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (line) {
    printf("%s\n", line);
    fflush(stdout);
    free(line);
  }
  json_decref(record);

  struct evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", "application/json");
  if (is_initialize) {
    char session[64];
    snprintf(session, sizeof session, "jansson-%lx-%lu", session_salt, ++next_session);
    evhttp_add_header(out, "Mcp-Session-Id", session);
  }
  struct evbuffer* reply = evbuffer_new();
  evbuffer_add_printf(reply, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
  evhttp_send_reply(req, 200, "OK", reply);
  evbuffer_free(reply);
}

int main(void) {
  session_salt = (unsigned long)getpid() ^ (unsigned long)time(NULL);
  struct event_base* base = event_base_new();
  struct evhttp* http = base ? evhttp_new(base) : NULL;
  if (!http) {
    fprintf(stderr, "jansson_reader: cannot create the event loop\n");
    return 1;
  }
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                       EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS |
                                       EVHTTP_REQ_HEAD);
  evhttp_set_max_body_size(http, 1 << 20);
  evhttp_set_gencb(http, on_request, NULL);
  struct evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
  if (!bound) {
    fprintf(stderr, "jansson_reader: cannot bind 127.0.0.1\n");
    return 1;
  }
  struct sockaddr_in address;
  socklen_t size = sizeof address;
  if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr*)&address, &size) != 0) {
    perror("jansson_reader: getsockname");
    return 1;
  }
  fprintf(stderr, "jansson_reader listening on 127.0.0.1:%u\n", (unsigned)ntohs(address.sin_port));
  event_base_dispatch(base);
  evhttp_free(http);
  event_base_free(base);
  return 0;
}
