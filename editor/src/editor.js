// The article body editor: CodeMirror 6 (https://codemirror.net) with Markdown highlighting, line numbers,
// undo history, search and line wrapping. knowledge.js imports only `createEditor`; the bundle is built by
// `make editor` (esbuild) from the versions pinned in package-lock.json.
import { basicSetup } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { markdown } from "@codemirror/lang-markdown";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

// The desk's pages allow no inline styles (CSP style-src 'self'). CodeMirror's styles come from style-mod,
// which writes a <style> element in a document (refused there) but a constructed stylesheet in a shadow root
// (allowed): so the editor lives in a shadow root of `parent`, with its look set here rather than in desk.css.
const look = EditorView.theme({
  "&": { minHeight: "16rem", maxHeight: "36rem", backgroundColor: "#ffffff", color: "#1b1f24", fontSize: "0.92rem" },
  ".cm-scroller": { fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace', overflow: "auto", minHeight: "16rem" },
  "&.cm-focused": { outline: "3px solid #f2a900", outlineOffset: "2px" },
});

/** An editor in `parent`; onChange(text) after every edit. Returns {get, set, setReadOnly, showProblems, view}. */
export function createEditor(parent, { text = "", onChange = () => {}, readOnly = false, label = "Article text" } = {}) {
  const editable = new Compartment();
  const shadow = parent.attachShadow({ mode: "open" });
  const mount = document.createElement("div");
  shadow.appendChild(mount);
  const view = new EditorView({
    parent: mount,
    root: shadow,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        look,
        markdown(),
        EditorView.lineWrapping,
        lintGutter(), // findings come from the server's `kb lint`, set with showProblems
        editable.of([EditorView.editable.of(!readOnly), EditorState.readOnly.of(readOnly)]),
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.updateListener.of((update) => { if (update.docChanged) onChange(update.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    get: () => view.state.doc.toString(),
    set(value) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
    },
    setReadOnly(value) {
      view.dispatch({ effects: editable.reconfigure([EditorView.editable.of(!value), EditorState.readOnly.of(value)]) });
    },
    /** problems: [{line (1-based in the body), message, severity}] shown as diagnostics on their lines. */
    showProblems(problems) {
      const doc = view.state.doc;
      const diagnostics = problems.filter((p) => p.line >= 1 && p.line <= doc.lines).map((p) => {
        const line = doc.line(p.line);
        return { from: line.from, to: line.to, severity: p.severity === "error" ? "error" : "warning", message: p.message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
  };
}
