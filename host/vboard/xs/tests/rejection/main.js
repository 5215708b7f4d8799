async function later() {
  await 0;
  throw new TypeError("nobody catches this");
}
later();
trace("main done\n");
