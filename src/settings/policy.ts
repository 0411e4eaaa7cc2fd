import { z } from 'zod';
import { loadYamlFile } from './yaml-file.js';

/**
 * Who may do what: the approval policy, usually read from a YAML file (POLICY_FILE). Roles name
 * lists of platform user or group ids; rules pick roles and approval counts per runbook and step.
 */
const ROLE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const roleName = z.string().regex(ROLE, `role names must match ${ROLE.source}`);
const roleList = z.array(roleName).min(1);
const approverCount = z.int().min(1).max(5);
const instant = z.iso.datetime({ offset: true });

export const policySchema = z
  .strictObject({
    /** role → member ids: user ids (U…, Discord snowflakes), group ids (S…), role ids; `platform:id` pins a platform. */
    roles: z.record(roleName, z.array(z.string().min(1))).default({}),
    defaults: z
      .strictObject({
        /** Who may request steps that change something (read-only steps: anyone). Absent: anyone. */
        request: roleList.optional(),
        /** Who may approve or deny. Absent: anyone but the requester. */
        approve: roleList.optional(),
        /** Distinct approvers a `danger` step needs at least; the requester never counts for those. */
        dangerApprovers: approverCount.default(2),
        /** A request not approved within this many minutes expires. */
        approvalTtlMinutes: z.number().positive().max(24 * 60).default(15),
        /**
         * Requesting a step on an incident nobody owns makes the requester its owner (an ack), so a
         * responder who is fixing it is not escalated meanwhile. `false`: only Acknowledge does.
         */
        acknowledgeOnRequest: z.boolean().default(true),
      })
      .prefault({}),
    /** Per runbook and step (globs with `*`); the first rule that matches wins. */
    rules: z
      .array(
        z.strictObject({
          runbook: z.string().min(1).default('*'),
          step: z.string().min(1).default('*'),
          request: roleList.optional(),
          approve: roleList.optional(),
          approvers: approverCount.optional(),
          /** Changing steps it matches may still be requested on a resolved incident, when the requester confirms. */
          afterResolve: z.boolean().optional(),
        }),
      )
      .default([]),
    /** Environment scoping: the alert label `label` selects a scope, e.g. `env: prod` needs more approvers. */
    environments: z
      .strictObject({
        label: z.string().min(1).default('env'),
        scopes: z.record(
          z.string().min(1),
          z.strictObject({
            /** At least this many approvers in this environment. */
            approvers: approverCount.optional(),
            /** This many more than the step would otherwise need. */
            extraApprovers: z.int().min(0).max(4).optional(),
            approve: roleList.optional(),
          }),
        ),
      })
      .optional(),
    /** Change freezes: changing steps are refused inside these windows, with the reason. */
    freezes: z
      .array(
        z.strictObject({
          from: instant,
          to: instant,
          reason: z.string().min(1),
          /** Only for these environments (values of the environment label); absent: everywhere. */
          environments: z.array(z.string().min(1)).optional(),
        }),
      )
      .default([]),
  })
  .superRefine((policy, ctx) => {
    const known = new Set(Object.keys(policy.roles));
    const check = (roles: string[] | undefined, path: (string | number)[]) => {
      for (const [i, role] of (roles ?? []).entries()) {
        if (!known.has(role)) ctx.addIssue({ code: 'custom', path: [...path, i], message: `unknown role "${role}" (roles: ${[...known].join(', ') || 'none'})` });
      }
    };
    check(policy.defaults.request, ['defaults', 'request']);
    check(policy.defaults.approve, ['defaults', 'approve']);
    policy.rules.forEach((rule, i) => {
      check(rule.request, ['rules', i, 'request']);
      check(rule.approve, ['rules', i, 'approve']);
    });
    for (const [name, scope] of Object.entries(policy.environments?.scopes ?? {})) check(scope.approve, ['environments', 'scopes', name, 'approve']);
    policy.freezes.forEach((f, i) => {
      if (Date.parse(f.to) <= Date.parse(f.from)) ctx.addIssue({ code: 'custom', path: ['freezes', i, 'to'], message: 'a freeze must end after it starts' });
    });
  });

export type Policy = z.output<typeof policySchema>;

/** The policy when no file is given: anyone may request, `approvers` (APPROVERS) or anyone but the requester approve. */
export function defaultPolicy(approvers: readonly string[]): Policy {
  return policySchema.parse(approvers.length > 0 ? { roles: { approvers: [...approvers] }, defaults: { approve: ['approvers'] } } : {});
}

/** The approval policy: from POLICY_FILE when set, else the built-in default with APPROVERS as the approvers. */
export async function loadPolicy(file: string | undefined, approvers: readonly string[]): Promise<Policy> {
  return file === undefined ? defaultPolicy(approvers) : loadYamlFile(file, policySchema, 'policy');
}
