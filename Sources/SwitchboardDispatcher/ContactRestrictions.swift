import Foundation
import Logging
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The contacts whose bulk messages must not go out (opted out, or paused by the inbox),
/// kept in memory so a bulk send costs no store read: all of them are read at every
/// refresh, and one contact again on its `contact.changed` control event.
final class ContactRestrictions: Sendable {
    private let store: any ContactStore
    private let restricted = Mutex<[TenantID: [String: ContactPolicy]]>([:])
    private let logger: Logger

    init(store: any ContactStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Why a bulk message to `contact` must not be sent now, or nil.
    func suppression(of contact: PhoneNumber, tenant: TenantID, at date: Date = Date()) -> Suppression? {
        restricted.withLock { $0[tenant]?[contact.e164] }?.suppression(at: date)
    }

    /// Reads every restricted contact again.
    func reload() async throws(StoreError) {
        let fresh = try await store.restrictedContacts(at: Date())
        restricted.withLock { $0 = fresh }
    }

    /// Reads one contact again (it just changed).
    func reload(_ contact: PhoneNumber, tenant: TenantID) async {
        do {
            let policy = try await store.contactPolicy(contact, of: tenant)
            restricted.withLock { all in
                if policy.isRestrictive(at: Date()) {
                    all[tenant, default: [:]][contact.e164] = policy
                } else {
                    all[tenant]?[contact.e164] = nil
                }
            }
        } catch {
            logger.warning("cannot read contact; the periodic refresh will", metadata: [
                LogKey.tenant: "\(tenant)", LogKey.contact: "\(contact)", LogKey.error: "\(error)",
            ])
        }
    }
}
