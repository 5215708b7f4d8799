/*
 * XS platform header of the virtual board (selected with -DXSPLATFORM).
 * Linux, 32-bit (-m32) so that txSlot is 16 bytes as on the ESP32.
 * Everything not listed as a default below is implemented in vb_*.c.
 */
#ifndef VB_PLATFORM_H
#define VB_PLATFORM_H

#undef mxLittleEndian
#define mxLittleEndian 1
#undef mxLinux
#define mxLinux 1

#define mxExport extern
#define mxImport extern
#define XS_FUNCTION_NORETURN __attribute__((noreturn))

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <unistd.h>

/* Date.now() reads the board's system time, which follows its clock, virtual or real (vb_wall_clock.c). */
#include <sys/time.h>
typedef struct timeval c_timeval;
#define c_timezone timezone
int vb_gettimeofday(struct timeval *tv, void *tz);
#define c_gettimeofday vb_gettimeofday

#define mxUseGCCAtomics 1
#define mxUsePOSIXThreads 1

/* waiter*: Atomics.wait support; promiseJobs: set by fxQueuePromiseJobs, drained by the run loop. */
#define mxMachinePlatform \
	void* waiterCondition; \
	void* waiterData; \
	void* waiterLink; \
	int promiseJobs;

#define mxUseDefaultMachinePlatform 1
#define mxUseDefaultBuildKeys 1
#define mxUseDefaultParseScript 1
#define mxUseDefaultSharedChunks 1
/* Not defaults (see vb_machine.c / vb_modules.c): chunk and slot allocation
   (byte counter and --mem-limit), module lookup (module archive), promise
   job queue, abort (panic exit 6). */

#endif
