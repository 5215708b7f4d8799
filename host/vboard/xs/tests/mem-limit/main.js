const keep = [];
for (;;) keep.push({ more: "memory" + keep.length });
