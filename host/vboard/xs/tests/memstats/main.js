const memstats = native("xs_vb_memstats");
let objects = [];
for (let i = 0; i < 5000; i++) objects.push({ i });
objects = null;
native("xs_vb_gc")();
trace(JSON.stringify(memstats()) + "\n");
