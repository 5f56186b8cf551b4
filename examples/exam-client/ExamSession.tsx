/**
 * A student's exam page, written once for a table of functions (functions.ts): `examFunctions.v1` before
 * the frontend move (guide step 6), `examFunctions.v2` after. It counts down to the session's `endsAt`
 * (queries are not re-sent as time passes), pauses and resumes, submits, and shows each coded error.
 */
import { useMutation, useQuery } from "convex/react";
import { Component, useEffect, useState, type ReactNode } from "react";
import type { Id } from "../../convex/_generated/dataModel";
import { studentMessage } from "./errors";
import type { ExamFunctions } from "./functions";

type Props = { examId: Id<"exams">; functions: ExamFunctions };

/** A query's error (NOT_AUTHENTICATED, NOT_FOUND, LIMIT_EXCEEDED…) is thrown during render: shown here. */
class QueryErrors extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    return this.state.error === null ? this.props.children : <p role="alert">{studentMessage(this.state.error)}</p>;
  }
}

export function ExamPage(props: Props) {
  return (
    <QueryErrors>
      <ExamSession {...props} />
    </QueryErrors>
  );
}

/** Milliseconds until `endsAt` by this browser's clock, ticking every second; null while there is no deadline. */
function useRemaining(endsAt: number | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (endsAt === null) return;
    setNow(Date.now()); // a deadline that just appeared (start, resume) counts from now, not from the last tick
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [endsAt]);
  return endsAt === null ? null : Math.max(0, endsAt - now);
}

function ExamSession({ examId, functions }: Props) {
  const session = useQuery(functions.getExamSession, { examId });
  const start = useMutation(functions.startExam);
  const pause = useMutation(functions.startPause);
  const resume = useMutation(functions.resumeFromPause);
  const submit = useMutation(functions.submitExamAnswers);
  const [selected, setSelected] = useState<Record<Id<"questions">, string>>({});
  const [error, setError] = useState<string | null>(null);
  const remaining = useRemaining(session?.endsAt ?? null);

  // Every write: the session query re-runs by itself when the write changes what it read.
  const run = (write: () => Promise<unknown>) => {
    setError(null);
    write().catch((e: unknown) => setError(studentMessage(e)));
  };

  if (session === undefined) return <p>Loading…</p>;
  const answers = Object.entries(selected).map(([questionId, selectedAnswer]) => ({
    questionId: questionId as Id<"questions">,
    selectedAnswer,
  }));

  const body = () => {
    switch (session.status) {
      case "not_started":
        return <button onClick={() => run(() => start({ examId }))}>Start</button>;
      case "paused":
        return (
          <p>
            Paused: the clock stops. <button onClick={() => run(() => resume({ examId }))}>Resume</button>
          </p>
        );
      case "completed":
        return <p>Submitted. Score: {session.score ?? 0}</p>;
      case "in_progress":
        return (
          <>
            {/* The server's deadline; it allows 10 s of grace for a late submit and alone decides TIME_UP. */}
            <p>{remaining !== null && remaining > 0 ? `Time left: ${Math.ceil(remaining / 1000)} s` : "Time is up: submit now."}</p>
            <button disabled={session.pausesLeft === 0} onClick={() => run(() => pause({ examId }))}>
              Pause ({session.pausesLeft} left)
            </button>
            {session.questions.map((q) => (
              <fieldset key={q.questionId}>
                <legend>{q.text}</legend>
                {q.options.map((option) => (
                  <label key={option}>
                    <input
                      type="radio"
                      name={q.questionId}
                      checked={selected[q.questionId] === option}
                      onChange={() => setSelected({ ...selected, [q.questionId]: option })}
                    />
                    {option}
                  </label>
                ))}
              </fieldset>
            ))}
            <button onClick={() => run(() => submit({ examId, answers }))}>Submit</button>
          </>
        );
    }
  };

  return (
    <section>
      <h1>{session.title}</h1>
      {error !== null && <p role="alert">{error}</p>}
      {body()}
    </section>
  );
}
