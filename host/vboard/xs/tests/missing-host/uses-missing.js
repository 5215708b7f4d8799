export function f() @ "xs_vb_no_such_symbol";
