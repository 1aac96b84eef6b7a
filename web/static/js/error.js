// An error page (web/templates/error.html): its words come from the server; this only wires
// the header (the language switch).
import { initPage } from "./header.js";

initPage();
