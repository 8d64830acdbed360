// RFC 8785 works on I-JSON, which forbids duplicate member names. JSON.parse silently keeps the
// last of two, while other parsers keep the first: a line with duplicates could show an auditor's
// tool an unsigned value. This finds them in text that JSON.parse has already accepted.

/** The first member name that appears twice in one object of `json` (valid JSON), or null. */
export function duplicateKey(json: string): string | null {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === "{") stack.push({ keys: new Set(), expectKey: true });
    else if (c === "[") stack.push({ keys: null, expectKey: false });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    } else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const name = JSON.parse(json.slice(i, j + 1)) as string;
        if (top.keys.has(name)) return name;
        top.keys.add(name);
        top.expectKey = false;
      }
      i = j;
    }
  }
  return null;
}
