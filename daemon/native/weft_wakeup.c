/*
 * weft_wakeup: one libuv timer per JS environment, for the control plane's clock (daemon/clock.ts).
 *
 * Node re-arms its own timer handle only when a timer fires or an earlier one is set, so a cleared
 * timeout still wakes the process at its old time: every answered gossip probe woke weftd once
 * more, 150 ms later, for nothing. uv_timer_stop() and uv_timer_start() move this timer both ways.
 *
 *   createWakeup(callback) -> wakeup   callback() runs in a callback scope when the timer fires
 *   armWakeup(wakeup, ms)              (re)arms it ms from now; replaces any earlier arming
 *   disarmWakeup(wakeup)               stops it
 *
 * The timer is unref'd: it never keeps the loop alive. It lives as long as its environment (closed
 * by an async cleanup hook at worker exit or process teardown) or until its JS object is collected.
 * Exceptions thrown by the callback are reported as uncaught, as a timer's would be.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <stdint.h>
#include <stdlib.h>

#include "weft_wakeup.h"

typedef struct {
  uv_timer_t timer;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  napi_async_cleanup_hook_handle cleanup;
  int closing;
  int collected; /* the JS object is gone: free on close */
  int closed;    /* the handle is closed: free on collection */
} wakeup;

static void on_closed(uv_handle_t *h) {
  wakeup *w = h->data;
  w->closed = 1;
  if (w->cleanup) {
    napi_remove_async_cleanup_hook(w->cleanup);
    w->cleanup = NULL;
  }
  if (w->collected) free(w);
}

/* Stops the timer and closes it; JS references are dropped only while the environment runs. */
static void wakeup_close(wakeup *w, int release_js) {
  if (w->closing) return;
  w->closing = 1;
  uv_timer_stop(&w->timer);
  if (release_js) {
    napi_delete_reference(w->env, w->callback);
    napi_async_destroy(w->env, w->context);
  }
  w->callback = NULL;
  uv_close((uv_handle_t *)&w->timer, on_closed);
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  wakeup_close(arg, 0);
}

static void on_collected(napi_env env, void *data, void *hint) {
  wakeup *w = data;
  (void)env;
  (void)hint;
  wakeup_close(w, 1);
  w->collected = 1;
  if (w->closed) free(w);
}

static void on_timer(uv_timer_t *t) {
  wakeup *w = t->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (w->closing || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn != NULL && napi_get_global(env, &recv) == napi_ok &&
      napi_make_callback(env, w->context, recv, fn, 0, NULL, &result) != napi_ok) {
    napi_value ex;
    if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static wakeup *unwrap(napi_env env, napi_callback_info info, size_t want, napi_value *args) {
  size_t argc = want;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < want || napi_get_value_external(env, args[0], &data) != napi_ok ||
      data == NULL) {
    throw_error(env, "expected a wakeup from createWakeup()");
    return NULL;
  }
  return data;
}

static napi_value create_wakeup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1], name, out;
  napi_valuetype type;
  uv_loop_t *loop;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, args[0], &type) != napi_ok ||
      type != napi_function) {
    return throw_error(env, "createWakeup(callback): callback must be a function");
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_error(env, "createWakeup: no event loop");
  wakeup *w = calloc(1, sizeof(*w));
  if (!w) return throw_error(env, "createWakeup: out of memory");
  w->env = env;
  if (napi_create_reference(env, args[0], 1, &w->callback) != napi_ok || napi_create_string_utf8(env, "weft.wakeup", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok) {
    if (w->callback) napi_delete_reference(env, w->callback);
    free(w);
    return throw_error(env, "createWakeup: cannot hold the callback");
  }
  uv_timer_init(loop, &w->timer);
  w->timer.data = w;
  uv_unref((uv_handle_t *)&w->timer);
  if (napi_create_external(env, w, on_collected, NULL, &out) != napi_ok) {
    wakeup_close(w, 1);
    w->collected = 1;
    return throw_error(env, "createWakeup: cannot wrap the timer");
  }
  napi_add_async_cleanup_hook(env, on_env_teardown, w, &w->cleanup);
  return out;
}

static napi_value arm_wakeup(napi_env env, napi_callback_info info) {
  napi_value args[2];
  wakeup *w = unwrap(env, info, 2, args);
  if (!w) return NULL;
  double ms;
  if (napi_get_value_double(env, args[1], &ms) != napi_ok || !(ms >= 0) || ms > 2147483647.0) return throw_error(env, "armWakeup: ms must be a number in [0, 2^31)");
  if (w->closing) return NULL;
  /* From now, not from the start of this loop iteration (JavaScript may have run for a while). */
  uv_update_time(w->timer.loop);
  uv_timer_start(&w->timer, on_timer, (uint64_t)ms, 0);
  return NULL;
}

static napi_value disarm_wakeup(napi_env env, napi_callback_info info) {
  napi_value args[1];
  wakeup *w = unwrap(env, info, 1, args);
  if (!w) return NULL;
  if (!w->closing) uv_timer_stop(&w->timer);
  return NULL;
}

int weft_wakeup_export(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"createWakeup", create_wakeup}, {"armWakeup", arm_wakeup}, {"disarmWakeup", disarm_wakeup}};
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
      return -1;
  }
  return 0;
}
