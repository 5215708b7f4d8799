// The virtual board binds native("name") and Native("name") when they run;
// on the device xsc binds them when it compiles, and only in one form: a call
// of the bare identifier with exactly one string literal (xsSyntaxical.c,
// Moddable 7.2.1). xsc refuses the build otherwise, and any other use of the
// identifiers reaches globals that throw "invalid native" at run time. So the
// firmware build refuses here what the device build or the device would, and
// a difference between the boards cannot hide a device failure.

import { SourceMap } from "node:module";
import type ts from "typescript";

export interface NativeCallError {
  readonly line: number;
  /** xsc's wording where xsc refuses, e.g. `native: argument is no string literal`. */
  readonly message: string;
}

const NAMES = new Set(["native", "Native"]);

/**
 * Every use of native/Native in a compiled module (JavaScript) that xsc would
 * refuse or that would throw on the device; lines are 1-based, of `map`'s
 * source when a source map (esbuild's, JSON) is given.
 */
export async function nativeCallErrors(js: string, map?: string): Promise<NativeCallError[]> {
  const { default: typescript } = await import("typescript");
  const file = typescript.createSourceFile("module.js", js, typescript.ScriptTarget.Latest, true, typescript.ScriptKind.JS);
  const sourceMap = map ? new SourceMap(JSON.parse(map) as ConstructorParameters<typeof SourceMap>[0]) : undefined;
  const errors: NativeCallError[] = [];
  const report = (node: ts.Node, message: string) => {
    const at = file.getLineAndCharacterOfPosition(node.getStart(file));
    const entry = sourceMap?.findEntry(at.line, at.character);
    const line = entry && "originalLine" in entry ? entry.originalLine : at.line;
    errors.push({ line: line + 1, message });
  };
  const visit = (node: ts.Node): void => {
    if (typescript.isIdentifier(node) && NAMES.has(node.text) && !isMemberName(typescript, node)) {
      const call = node.parent;
      if (typescript.isCallExpression(call) && call.expression === node && !call.questionDotToken) {
        const [first] = call.arguments;
        if (!first) report(call, `${node.text}: no argument`);
        else if (call.arguments.length > 1) report(call, `${node.text}: too many arguments`);
        else if (!typescript.isStringLiteral(first)) report(call, `${node.text}: argument is no string literal`);
      } else {
        report(node, `${node.text} used other than as ${node.text}("name"): the device throws "invalid native"`);
      }
    }
    typescript.forEachChild(node, visit);
  };
  visit(file);
  return errors;
}

/** `x.native`, `{ native: 1 }`, `class { native() {} }`: a property named so, not the identifier. */
function isMemberName(typescript: typeof ts, node: ts.Identifier): boolean {
  const parent = node.parent;
  return (
    ((typescript.isPropertyAccessExpression(parent) || typescript.isPropertyAssignment(parent)) && parent.name === node) ||
    ((typescript.isMethodDeclaration(parent) ||
      typescript.isPropertyDeclaration(parent) ||
      typescript.isGetAccessorDeclaration(parent) ||
      typescript.isSetAccessorDeclaration(parent)) &&
      parent.name === node)
  );
}
