// Moddable's three ways to bind C: `@ "name"`, native(name), Native(destructor)
function add(a, b) @ "xs_vb_test_add";
trace(`@: ${add(2, 40)} ${typeof add} ${add.name}\n`);

const nativeAdd = native("xs_vb_test_add");
trace(`native: ${nativeAdd(1, 2)} ${nativeAdd.call({}, 20, 22)} same=${nativeAdd === native("xs_vb_test_add")}\n`);

class Thing extends Native("xs_vb_test_destructor") {
  constructor(n) { super(); this.n = n; }
  sum(b) { return native("xs_vb_test_add").call(this, this.n, b); }
}
const destroyed = native("xs_vb_test_destroyed");
const before = destroyed();
let things = [];
for (let i = 0; i < 100; i++) things.push(new Thing(i));
trace(`Native: ${things[5].sum(10)} ${things[5] instanceof Thing}\n`);
things = null;
native("xs_vb_gc")();
trace(`destroyed: ${destroyed() - before >= 100}\n`);

try {
  native("xs_vb_no_such_function");
} catch (e) {
  trace(`caught: ${e}\n`);
}
