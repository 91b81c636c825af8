// The article body editor: CodeMirror 6 (https://codemirror.net) with Markdown highlighting, line numbers,
// undo history, search and line wrapping. knowledge.js imports only `createEditor`; the bundle is built by
// `make editor` (esbuild) from the versions pinned in package-lock.json.
import { basicSetup } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { markdown } from "@codemirror/lang-markdown";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

/** An editor in `parent`; onChange(text) after every edit. Returns {get, set, setReadOnly, showProblems, view}. */
export function createEditor(parent, { text = "", onChange = () => {}, readOnly = false, label = "Article text" } = {}) {
  const editable = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
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
