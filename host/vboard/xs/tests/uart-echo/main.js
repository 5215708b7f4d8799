const read = native("xs_vb_uart_read");
const write = native("xs_vb_uart_write");
write("ready\n");
native("xs_vb_uart_on_readable")((count) => {
  const bytes = read();
  if (!bytes) return;
  write(`<${count}:`);
  write(new Uint8Array(bytes));
  write(">");
});
