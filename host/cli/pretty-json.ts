// Indent JSON text without parsing it into numbers, so a result such as
// {"big":18446744073709551617} is printed with the digits the device sent.

export function prettyJson(text: string, indent = "  "): string {
  let out = "";
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      let k = i + 1;
      while (" \t\r\n".includes(text[k] ?? "")) k++;
      if (text[k] === close) {
        out += c + close;
        i = k;
      } else {
        out += c + "\n" + indent.repeat(++depth);
      }
    } else if (c === "}" || c === "]") {
      out += "\n" + indent.repeat(--depth) + c;
    } else if (c === ",") {
      out += ",\n" + indent.repeat(depth);
    } else if (c === ":") {
      out += ": ";
    } else if (!" \t\r\n".includes(c)) {
      out += c;
    }
  }
  return out;
}
