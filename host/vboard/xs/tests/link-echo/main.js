const send = native("xs_vb_link_send");
native("xs_vb_link_on_message")((json, bin) => {
  const message = JSON.parse(json);
  const reversed = bin ? new Uint8Array(bin).reverse() : undefined;
  send(JSON.stringify({ t: "echo", got: message, binLength: bin ? bin.byteLength : -1 }), reversed);
  if (message.t === "stop") native("xs_vb_link_on_message")(null);
});
send(JSON.stringify({ t: "ready" }));
