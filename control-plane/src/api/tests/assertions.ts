import { ApiRequestError } from '@espresso/api';

/** Matches an ApiRequestError of this status whose problem details name `path` among the fields at fault. */
export function refused(status: number, path?: string) {
  return (e: unknown) =>
    e instanceof ApiRequestError &&
    e.status === status &&
    e.problem?.status === status &&
    (path === undefined || e.problem?.errors?.some((i) => i.path === path) === true);
}
