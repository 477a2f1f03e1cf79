/* The control plane's wake-up timer (weft_wakeup.c), exported by the weft_native addon. */
#ifndef WEFT_WAKEUP_H
#define WEFT_WAKEUP_H
#include <node_api.h>

/* Adds createWakeup, armWakeup and disarmWakeup to exports; -1 on failure. */
int weft_wakeup_export(napi_env env, napi_value exports);

#endif
