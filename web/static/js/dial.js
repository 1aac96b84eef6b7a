// Click-to-call: the PBX rings the agent's phone, then the customer. With a callback task the
// attempt is logged first and its id comes back, for the outcome form.
import { api } from "./api.js";
import { errorMessage } from "./forms.js";
import { toast, toastError } from "./toast.js";

/** Dial `number`; returns {action_id, attempt_id, number} or null when it failed (the
 * reason is shown). */
export async function dial(number, { taskId = null, display = null } = {}) {
  try {
    const result = await api.post("/api/calls/dial", { number, task_id: taskId });
    toast("dial.calling", { n: display || result.number }, { kind: "info" });
    return result;
  } catch (error) {
    toastError(errorMessage(error));
    return null;
  }
}
