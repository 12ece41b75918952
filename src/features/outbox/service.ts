import type { Db } from '../../db/database.js';
import type { MailOutboxRow, MailStatus } from '../../db/tables/mail-outbox.js';
import type { DevOutbox } from '../../sending/dev-outbox.js';
import type { MailOutbox } from '../../sending/mail-outbox.js';
import { countMailByStatus, listMail } from '../../sending/mail-outbox-repository.js';

export type OutboxService = ReturnType<typeof createOutboxService>;

/** What the Outbox and Mail log pages show: mail kept by the dev outbox, and single mail with its fate. */
export function createOutboxService(deps: { db: Db; devOutbox: DevOutbox; mailOutbox: MailOutbox }) {
  const { db, devOutbox, mailOutbox } = deps;
  return {
    captured: (limit: number, beforeId?: number) => devOutbox.list(limit, beforeId),
    message: (id: number) => devOutbox.find(id),
    clear: () => devOutbox.clear(),

    async mailLog(limit: number, beforeId: number | undefined, status: MailStatus | undefined): Promise<{ rows: MailOutboxRow[]; counts: Record<string, number> }> {
      const [rows, counts] = await Promise.all([listMail(db, limit, beforeId, status ? [status] : undefined), countMailByStatus(db)]);
      return { rows, counts };
    },

    /** False when the message is not one that can be sent again. */
    resend: (id: number) => mailOutbox.resend(id),
  };
}
