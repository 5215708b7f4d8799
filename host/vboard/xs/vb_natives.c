/*
 * Bridge natives without a better home: memory statistics for the
 * firmware's diagnostics and the memory tests, and a test-only binding.
 */
#include "xsmc.h"
#include "vb_host.h"

static void vb_set_number(xsMachine *the, xsSlot *object, const char *name, size_t value)
{
	xsmcSetNumber(xsVar(0), (double)value);
	xsmcSet(*object, xsID(name), xsVar(0));
}

/* xs_vb_memstats() -> {slotSize, heapSlotBytes, romBytes, slotsCurrent, slotsPeak, slotsMax,
   chunksCurrent, chunksPeak, chunksMax, allocatedBytes, heapLimit}: bytes, except
   slots* (counts). slotSize is this build's txSlot, heapSlotBytes what a slot is
   charged (the ESP32's); allocatedBytes is what the blocks in use are charged,
   heapLimit is --mem-limit, 0 when there is none. */
void xs_vb_memstats(xsMachine *the)
{
	vb_memstats_t s;
	vb_memstats(&s);   /* before allocating the result, which would move the numbers */
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	vb_set_number(the, &xsResult, "slotSize", s.slotSize);
	vb_set_number(the, &xsResult, "heapSlotBytes", s.heapSlotBytes);
	vb_set_number(the, &xsResult, "slotsCurrent", s.slotsCurrent);
	vb_set_number(the, &xsResult, "slotsPeak", s.slotsPeak);
	vb_set_number(the, &xsResult, "slotsMax", s.slotsMax);
	vb_set_number(the, &xsResult, "chunksCurrent", s.chunksCurrent);
	vb_set_number(the, &xsResult, "chunksPeak", s.chunksPeak);
	vb_set_number(the, &xsResult, "chunksMax", s.chunksMax);
	vb_set_number(the, &xsResult, "allocatedBytes", s.allocatedBytes);
	vb_set_number(the, &xsResult, "heapLimit", s.heapLimit);
	vb_set_number(the, &xsResult, "romBytes", s.romBytes);
}

/* xs_vb_gc(): a full garbage collection */
void xs_vb_gc(xsMachine *the)
{
	vb_collect_garbage(the);
}

/* xs_vb_test_add(a, b) -> a + b: lets the tests check host bindings */
void xs_vb_test_add(xsMachine *the)
{
	xsmcSetInteger(xsResult, xsmcToInteger(xsArg(0)) + xsmcToInteger(xsArg(1)));
}

/* Native("xs_vb_test_destructor"): a host class for the tests, counting the
   host objects XS has collected (the destructor also runs for the class's
   prototype objects, with NULL data). */
static int gTestDestroyed;

void xs_vb_test_destructor(void *data)
{
	(void)data;
	gTestDestroyed++;
}

/* xs_vb_test_destroyed() -> number of xs_vb_test_destructor calls */
void xs_vb_test_destroyed(xsMachine *the)
{
	xsmcSetInteger(xsResult, gTestDestroyed);
}
