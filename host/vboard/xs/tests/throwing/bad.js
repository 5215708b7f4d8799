trace("evaluating bad\n");
function fail() { throw new Error("bad module"); }
fail();
