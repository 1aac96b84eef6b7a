// The "no access" page (web/templates/forbidden.html): its words come from the server; this
// only wires the header (language switch, signing out).
import { initPage } from "./header.js";

initPage();
