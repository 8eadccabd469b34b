// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title Omnichart ledger
/// @notice Pointers, identities and consent for a personal-health-record network: which CID is which
/// record version of which patient, each account's signed registration and X25519 box public key,
/// organizations the operator admitted and the practitioners and analysts they attest, patient-signed
/// grants and revocations, bounded break-glass overrides, audit-log roots and model anchors. Records are anchored as events only; the
/// node's indexer rebuilds its cache from them, so no per-record storage is paid for.
/// @dev Consent is EIP-712 typed data signed by the patient (domain "Omnichart", version "1"). Anyone
/// may relay it: the signature is the authority, so a relayer cannot grant what the patient did not sign.
contract Omnichart is EIP712, Nonces {
    /// @notice One record version to anchor; `cid` is the binary CID of the encrypted envelope.
    struct RecordAnchor {
        address patient;
        bytes16 recordId;
        uint32 version;
        bytes cid;
    }

    /// @notice Grant typed data as the patient signs it.
    struct GrantRequest {
        address patient;
        address grantee;
        string scopes;
        uint64 expiresAt;
        uint256 nonce;
    }

    /// @notice A stored grant (three slots: patient+expiresAt+revoked, grantee, scopesHash).
    struct Grant {
        address patient;
        uint64 expiresAt;
        bool revoked;
        address grantee;
        bytes32 scopesHash;
    }

    /// @notice One audit batch root to anchor.
    struct AuditRoot {
        address patient;
        bytes32 root;
        uint64 firstSeq;
        uint64 lastSeq;
    }

    /// @notice An account's registration as its wallet signed it (EIP-191 personal_sign over the text
    /// `registrationText` builds); `issuedAt` is the ISO 8601 UTC time `YYYY-MM-DDTHH:MM:SS.sssZ`.
    struct Registration {
        address account;
        string role;
        string displayName;
        bytes32 boxPublicKey;
        string issuedAt;
    }

    /// @notice What the chain keeps of a registration: the key, the role (fixed) and the issue time.
    struct AccountRecord {
        bytes32 boxPublicKey;
        bytes32 roleHash;
        uint64 issuedAt;
    }

    /// @notice Attestation typed data as the organization signs it.
    struct AttestationRequest {
        address subject;
        string role;
        address organization;
        string identifier;
        uint64 expiresAt;
        uint256 nonce;
    }

    /// @notice The subject's current attestation (one per subject; a new one replaces it).
    struct Attestation {
        address organization;
        uint64 expiresAt;
        bool revoked;
        bytes32 roleHash;
        bytes32 identifierHash;
    }

    struct BreakGlassAccess {
        address patient;
        uint64 expiresAt;
        bool ended;
        address practitioner;
    }

    struct ModelAnchor {
        bytes cid;
        bytes32 metricsHash;
        uint64 blockNumber;
    }

    bytes32 public constant GRANT_TYPEHASH =
        keccak256("Grant(address patient,address grantee,string scopes,uint64 expiresAt,uint256 nonce)");
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(address patient,uint256 grantId,uint256 nonce)");
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256(
            "Attestation(address subject,string role,address organization,string identifier,uint64 expiresAt,uint256 nonce)"
        );
    bytes32 public constant REVOKE_ATTESTATION_TYPEHASH =
        keccak256("RevokeAttestation(address subject,address organization,uint256 nonce)");
    bytes32 public constant BREAK_GLASS_POLICY_TYPEHASH =
        keccak256("BreakGlassPolicy(address patient,bool refuse,uint256 nonce)");

    /// @notice Longest break-glass access the contract records, with slack for node and block clocks.
    uint64 public constant MAX_BREAK_GLASS_SECONDS = 3600 + 300;
    bytes32 private constant PRACTITIONER = keccak256("PRACTITIONER");
    bytes32 private constant ANALYST = keccak256("ANALYST");

    address public immutable owner;
    mapping(address => bool) public isRelayer;
    mapping(address => bytes32) private _accountKeys;
    mapping(address => AccountRecord) private _registrations;
    mapping(address => bool) public isAdmittedOrganization;
    mapping(address => Attestation) private _attestations;
    /// @notice Number of break-glass accesses ever recorded; ids are 1..breakGlassCount.
    uint256 public breakGlassCount;
    mapping(uint256 => BreakGlassAccess) private _breakGlass;
    /// @dev keccak256(patient, practitioner) => id of the latest break-glass between them.
    mapping(bytes32 => uint256) private _latestBreakGlass;
    mapping(address => bool) public refusesBreakGlass;
    /// @notice Number of grants ever created; grant ids are 1..grantCount in creation order (0 = none).
    uint256 public grantCount;
    mapping(uint256 => Grant) private _grants;
    mapping(address => mapping(bytes32 => uint64)) private _auditRootBlocks;
    mapping(bytes32 => ModelAnchor) private _models;

    event RelayerSet(address indexed relayer, bool enabled);
    /// @notice A node's own box key (its relayer address is the account).
    event AccountKeyRegistered(address indexed account, bytes32 boxPublicKey);
    /// @notice A signed registration; everything a node needs to verify and adopt the account.
    event AccountRegistered(
        address indexed account,
        string role,
        string displayName,
        bytes32 boxPublicKey,
        string issuedAt,
        bytes signature
    );
    event OrganizationAdmitted(address indexed organization, bool admitted);
    event Attested(
        address indexed subject,
        address indexed organization,
        string role,
        string identifier,
        uint64 expiresAt
    );
    event AttestationRevoked(address indexed subject, address indexed organization, address revokedBy);
    event RecordAnchored(address indexed patient, bytes16 indexed recordId, uint32 version, bytes cid);
    event GrantCreated(
        uint256 indexed grantId,
        address indexed patient,
        address indexed grantee,
        string scopes,
        uint64 expiresAt
    );
    event GrantRevoked(uint256 indexed grantId, address indexed patient, address indexed grantee);
    event BreakGlass(
        uint256 indexed breakGlassId,
        address indexed patient,
        address indexed practitioner,
        address organization,
        bytes32 reasonHash,
        uint64 expiresAt
    );
    event BreakGlassEnded(uint256 indexed breakGlassId, address indexed patient, address indexed practitioner);
    event BreakGlassPolicySet(address indexed patient, bool refuse);
    event AuditRootAnchored(address indexed patient, bytes32 indexed root, uint64 firstSeq, uint64 lastSeq);
    event ModelAnchored(bytes32 indexed modelId, bytes cid, bytes32 metricsHash);

    error NotOwner();
    error NotRelayer();
    error ZeroAddress();
    error EmptyBatch();
    /// @notice The signature is malformed or was not made by the patient over this exact message.
    error InvalidSignature();
    /// @notice The signed nonce is not the patient's current one (a replay, or signed too early).
    error InvalidNonce(address patient, uint256 expected, uint256 given);
    /// @notice The grant (or break-glass) expiry is not in the future.
    error GrantExpired(uint64 expiresAt, uint256 blockTimestamp);
    /// @notice The grantee is the zero address or the patient.
    error InvalidGrantee();
    error UnknownGrant(uint256 grantId);
    error GrantAlreadyRevoked(uint256 grantId);
    error InvalidAuditRoot();
    error InvalidSequenceRange(uint64 firstSeq, uint64 lastSeq);
    error InvalidModel();
    /// @notice The registration's issue time is not later than the one on chain (a replay or a rollback).
    error StaleRegistration(address account);
    /// @notice A registration may not change the account's role.
    error RoleChanged(address account);
    error InvalidIssuedAt();
    error NotAdmittedOrganization(address organization);
    /// @notice Organizations attest PRACTITIONER and ANALYST accounts only.
    error InvalidAttestationRole();
    error InvalidSubject();
    error UnknownAttestation(address subject);
    /// @notice The account holds no valid attestation for the role (none, expired, revoked, or its
    /// organization is no longer admitted).
    error NotAttested(address account);
    error BreakGlassRefused(address patient);
    error BreakGlassAlreadyOpen(uint256 breakGlassId);
    error UnknownBreakGlass(uint256 breakGlassId);
    error BreakGlassTooLong(uint64 expiresAt);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyRelayer() {
        if (!isRelayer[msg.sender]) revert NotRelayer();
        _;
    }

    constructor() EIP712("Omnichart", "1") {
        owner = msg.sender;
        isRelayer[msg.sender] = true;
        emit RelayerSet(msg.sender, true);
    }

    /// @notice Allow or stop an account relaying transactions for a node.
    function setRelayer(address relayer, bool enabled) external onlyOwner {
        if (relayer == address(0)) revert ZeroAddress();
        isRelayer[relayer] = enabled;
        emit RelayerSet(relayer, enabled);
    }

    /// @notice Publish the calling node's own box key (its relayer address is the account).
    function registerNodeKey(bytes32 boxPublicKey) external onlyRelayer {
        _accountKeys[msg.sender] = boxPublicKey;
        emit AccountKeyRegistered(msg.sender, boxPublicKey);
    }

    /// @notice Record an account's signed registration and its box key. Anyone may relay: the contract
    /// rebuilds the exact text the wallet signed, so no relayer can set or replace another account's key.
    /// A later registration must be newer and keep the role.
    function registerAccount(Registration calldata registration, bytes calldata signature) external {
        address account = registration.account;
        if (account == address(0)) revert ZeroAddress();
        _requireRegistrationSigner(registration, signature);
        uint64 issuedAt = _issuedAtOrdinal(registration.issuedAt);
        bytes32 roleHash = keccak256(bytes(registration.role));
        AccountRecord storage current = _registrations[account];
        if (current.issuedAt != 0) {
            if (issuedAt <= current.issuedAt) revert StaleRegistration(account);
            if (roleHash != current.roleHash) revert RoleChanged(account);
        }
        _registrations[account] = AccountRecord(registration.boxPublicKey, roleHash, issuedAt);
        _accountKeys[account] = registration.boxPublicKey;
        _emitRegistered(registration, signature);
    }

    /// @notice The text a wallet signs to register, byte for byte as the node's `registrationMessage`.
    function registrationText(Registration calldata registration) public view returns (bytes memory) {
        return
            abi.encodePacked(
                "Omnichart account registration\n\nAddress: ",
                Strings.toChecksumHexString(registration.account),
                "\nRole: ",
                registration.role,
                "\nDisplay name: ",
                registration.displayName,
                "\nBox public key (X25519, base64): ",
                Base64.encode(abi.encodePacked(registration.boxPublicKey)),
                "\nChain ID: ",
                Strings.toString(block.chainid),
                "\nContract: ",
                Strings.toChecksumHexString(address(this)),
                "\nIssued at: ",
                registration.issuedAt
            );
    }

    /// @notice The registration kept on chain for `account` (all zero when none).
    function registrationOf(address account) external view returns (AccountRecord memory) {
        return _registrations[account];
    }

    /// @notice The box public key registered for `account`, or zero when none is.
    function accountKey(address account) external view returns (bytes32) {
        return _accountKeys[account];
    }

    /// @notice Anchor a batch of record versions: one event per item, nothing stored.
    function anchorRecords(RecordAnchor[] calldata items) external onlyRelayer {
        uint256 n = items.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            RecordAnchor calldata item = items[i];
            emit RecordAnchored(item.patient, item.recordId, item.version, item.cid);
        }
    }

    // ---- Identity: admitted organizations attest practitioners and analysts ---------------------------

    /// @notice Admit an organization (or withdraw it; its attestations stop counting at once).
    function admitOrganization(address organization, bool admitted) external onlyOwner {
        if (organization == address(0)) revert ZeroAddress();
        isAdmittedOrganization[organization] = admitted;
        emit OrganizationAdmitted(organization, admitted);
    }

    /// @notice Record an attestation an admitted organization signed (EIP-712 `Attestation`). Anyone may
    /// relay. Replaces the subject's earlier attestation.
    function attest(AttestationRequest calldata request, bytes calldata signature) external {
        address organization = request.organization;
        if (!isAdmittedOrganization[organization]) revert NotAdmittedOrganization(organization);
        bytes32 roleHash = keccak256(bytes(request.role));
        if (roleHash != PRACTITIONER && roleHash != ANALYST) revert InvalidAttestationRole();
        if (request.subject == address(0) || request.subject == organization) revert InvalidSubject();
        if (request.expiresAt <= block.timestamp) revert GrantExpired(request.expiresAt, block.timestamp);
        bytes32 identifierHash = keccak256(bytes(request.identifier));
        bytes32 structHash = keccak256(
            abi.encode(
                ATTESTATION_TYPEHASH,
                request.subject,
                roleHash,
                organization,
                identifierHash,
                request.expiresAt,
                request.nonce
            )
        );
        _requireSigner(structHash, signature, organization);
        _consumeNonce(organization, request.nonce);
        _attestations[request.subject] = Attestation({
            organization: organization,
            expiresAt: request.expiresAt,
            revoked: false,
            roleHash: roleHash,
            identifierHash: identifierHash
        });
        emit Attested(request.subject, organization, request.role, request.identifier, request.expiresAt);
    }

    /// @notice Revoke a subject's attestation with the attesting organization's or the owner's EIP-712
    /// `RevokeAttestation` signature (nonce: the signer's). Anyone may relay.
    function revokeAttestation(address subject, uint256 nonce, bytes calldata signature) external {
        Attestation storage attestation = _attestations[subject];
        address organization = attestation.organization;
        if (organization == address(0) || attestation.revoked) revert UnknownAttestation(subject);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(REVOKE_ATTESTATION_TYPEHASH, subject, organization, nonce))
        );
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || (signer != organization && signer != owner)) {
            revert InvalidSignature();
        }
        _consumeNonce(signer, nonce);
        attestation.revoked = true;
        emit AttestationRevoked(subject, organization, signer);
    }

    /// @notice The owner (a multisig in production) revokes without a signature.
    function ownerRevokeAttestation(address subject) external onlyOwner {
        Attestation storage attestation = _attestations[subject];
        if (attestation.organization == address(0) || attestation.revoked) revert UnknownAttestation(subject);
        attestation.revoked = true;
        emit AttestationRevoked(subject, attestation.organization, msg.sender);
    }

    /// @notice The subject's current attestation (all zero when none).
    function attestationOf(address subject) external view returns (Attestation memory) {
        return _attestations[subject];
    }

    /// @notice True while `account` holds an unrevoked, unexpired attestation for `role` from an
    /// organization that is still admitted. For ORGANIZATION: whether the owner admitted it.
    function isAttested(address account, string calldata role) external view returns (bool) {
        return _isAttested(account, keccak256(bytes(role)));
    }

    function _isAttested(address account, bytes32 roleHash) private view returns (bool) {
        if (roleHash == keccak256("ORGANIZATION")) return isAdmittedOrganization[account];
        Attestation storage attestation = _attestations[account];
        return
            attestation.roleHash == roleHash &&
            !attestation.revoked &&
            block.timestamp < attestation.expiresAt &&
            isAdmittedOrganization[attestation.organization];
    }

    // ---- Consent -------------------------------------------------------------------------------------

    /// @notice Record a grant the patient signed (EIP-712 `Grant`); returns its id. Anyone may relay.
    /// @dev Checks, in order: grantee, expiry, signature, nonce. The nonce is consumed, so the same
    /// signature can never be used twice.
    function grantAccess(
        GrantRequest calldata request,
        bytes calldata signature
    ) external returns (uint256 grantId) {
        if (request.grantee == address(0) || request.grantee == request.patient) revert InvalidGrantee();
        if (request.expiresAt <= block.timestamp) revert GrantExpired(request.expiresAt, block.timestamp);
        bytes32 scopesHash = keccak256(bytes(request.scopes));
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                request.patient,
                request.grantee,
                scopesHash,
                request.expiresAt,
                request.nonce
            )
        );
        _requireSigner(structHash, signature, request.patient);
        _consumeNonce(request.patient, request.nonce);
        grantId = ++grantCount;
        _grants[grantId] = Grant({
            patient: request.patient,
            expiresAt: request.expiresAt,
            revoked: false,
            grantee: request.grantee,
            scopesHash: scopesHash
        });
        emit GrantCreated(grantId, request.patient, request.grantee, request.scopes, request.expiresAt);
    }

    /// @notice Revoke a grant; the signature (EIP-712 `Revoke`) must be the grant's patient's.
    function revokeAccess(uint256 grantId, uint256 nonce, bytes calldata signature) external {
        Grant storage grant = _grants[grantId];
        address patient = grant.patient;
        if (patient == address(0)) revert UnknownGrant(grantId);
        if (grant.revoked) revert GrantAlreadyRevoked(grantId);
        _requireSigner(keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantId, nonce)), signature, patient);
        _consumeNonce(patient, nonce);
        grant.revoked = true;
        emit GrantRevoked(grantId, patient, grant.grantee);
    }

    /// @notice The stored grant; all fields zero when `grantId` is unknown.
    function getGrant(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @notice True while the grant exists, is not revoked and `block.timestamp < expiresAt`.
    function isGrantActive(uint256 grantId) external view returns (bool) {
        Grant storage grant = _grants[grantId];
        return grant.patient != address(0) && !grant.revoked && block.timestamp < grant.expiresAt;
    }

    /// @notice The EIP-712 domain separator (name "Omnichart", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Make an emergency override public and permanent. The contract enforces what no node may
    /// bend: the practitioner holds a valid PRACTITIONER attestation, the patient has not refused
    /// break-glass, at most one is open per practitioner and patient, and it lasts at most an hour. The
    /// relayer vouches that the practitioner signed in; the reason stays off chain (only its keccak256).
    function recordBreakGlass(
        address patient,
        address practitioner,
        bytes32 reasonHash,
        uint64 expiresAt
    ) external onlyRelayer returns (uint256 breakGlassId) {
        if (patient == address(0) || practitioner == address(0)) revert ZeroAddress();
        if (expiresAt <= block.timestamp) revert GrantExpired(expiresAt, block.timestamp);
        if (expiresAt > block.timestamp + MAX_BREAK_GLASS_SECONDS) revert BreakGlassTooLong(expiresAt);
        if (!_isAttested(practitioner, PRACTITIONER)) revert NotAttested(practitioner);
        if (refusesBreakGlass[patient]) revert BreakGlassRefused(patient);
        bytes32 pair = keccak256(abi.encode(patient, practitioner));
        uint256 latest = _latestBreakGlass[pair];
        if (latest != 0) {
            BreakGlassAccess storage open = _breakGlass[latest];
            if (!open.ended && block.timestamp < open.expiresAt) revert BreakGlassAlreadyOpen(latest);
        }
        breakGlassId = ++breakGlassCount;
        _breakGlass[breakGlassId] = BreakGlassAccess(patient, expiresAt, false, practitioner);
        _latestBreakGlass[pair] = breakGlassId;
        emit BreakGlass(
            breakGlassId,
            patient,
            practitioner,
            _attestations[practitioner].organization,
            reasonHash,
            expiresAt
        );
    }

    /// @notice End a break-glass access before it expires (the node checked the patient or the
    /// practitioner asked). Ending one that already ended or expired emits nothing.
    function endBreakGlass(uint256 breakGlassId) external onlyRelayer {
        BreakGlassAccess storage access = _breakGlass[breakGlassId];
        if (access.patient == address(0)) revert UnknownBreakGlass(breakGlassId);
        if (access.ended || block.timestamp >= access.expiresAt) return;
        access.ended = true;
        emit BreakGlassEnded(breakGlassId, access.patient, access.practitioner);
    }

    /// @notice A break-glass access as recorded (all zero when unknown).
    function breakGlassOf(uint256 breakGlassId) external view returns (BreakGlassAccess memory) {
        return _breakGlass[breakGlassId];
    }

    /// @notice The patient refuses (or allows again) break-glass, by EIP-712 `BreakGlassPolicy` signature.
    function setBreakGlassPolicy(
        address patient,
        bool refuse,
        uint256 nonce,
        bytes calldata signature
    ) external {
        if (patient == address(0)) revert ZeroAddress();
        _requireSigner(
            keccak256(abi.encode(BREAK_GLASS_POLICY_TYPEHASH, patient, refuse, nonce)),
            signature,
            patient
        );
        _consumeNonce(patient, nonce);
        refusesBreakGlass[patient] = refuse;
        emit BreakGlassPolicySet(patient, refuse);
    }

    // ---- Audit --------------------------------------------------------------------------------------

    /// @notice Anchor the Merkle root of one patient's audit entries `firstSeq..lastSeq`.
    function anchorAuditRoot(address patient, bytes32 root, uint64 firstSeq, uint64 lastSeq) external onlyRelayer {
        _anchorAuditRoot(patient, root, firstSeq, lastSeq);
    }

    /// @notice Anchor several audit roots (any patients) in one transaction.
    function anchorAuditRoots(AuditRoot[] calldata roots) external onlyRelayer {
        uint256 n = roots.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            AuditRoot calldata r = roots[i];
            _anchorAuditRoot(r.patient, r.root, r.firstSeq, r.lastSeq);
        }
    }

    /// @notice Block in which `root` was first anchored for `patient`, or 0 when it never was.
    function auditRootBlock(address patient, bytes32 root) external view returns (uint64) {
        return _auditRootBlocks[patient][root];
    }

    // ---- Models -------------------------------------------------------------------------------------

    /// @notice Anchor a model version: its artifact CID and the hash of its metrics. A new version of the
    /// same model overwrites the previous anchor (the events keep the history).
    function anchorModel(bytes32 modelId, bytes calldata cid, bytes32 metricsHash) external onlyRelayer {
        if (modelId == bytes32(0) || cid.length == 0) revert InvalidModel();
        _models[modelId] = ModelAnchor({cid: cid, metricsHash: metricsHash, blockNumber: uint64(block.number)});
        emit ModelAnchored(modelId, cid, metricsHash);
    }

    /// @notice The latest anchor of `modelId`; an empty cid and block 0 when none.
    function modelAnchor(
        bytes32 modelId
    ) external view returns (bytes memory cid, bytes32 metricsHash, uint64 blockNumber) {
        ModelAnchor storage m = _models[modelId];
        return (m.cid, m.metricsHash, m.blockNumber);
    }

    // ---- Internals ----------------------------------------------------------------------------------

    function _requireSigner(bytes32 structHash, bytes calldata signature, address expected) private view {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(
            _hashTypedDataV4(structHash),
            signature
        );
        if (err != ECDSA.RecoverError.NoError || signer != expected) revert InvalidSignature();
    }

    function _consumeNonce(address signer, uint256 nonce) private {
        uint256 current = _useNonce(signer);
        if (nonce != current) revert InvalidNonce(signer, current, nonce);
    }

    function _requireRegistrationSigner(Registration calldata registration, bytes calldata signature) private view {
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(registrationText(registration));
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != registration.account) revert InvalidSignature();
    }

    function _emitRegistered(Registration calldata r, bytes calldata signature) private {
        emit AccountRegistered(r.account, r.role, r.displayName, r.boxPublicKey, r.issuedAt, signature);
    }

    /// @dev `YYYY-MM-DDTHH:MM:SS.sssZ` as the number its 17 digits spell: ordered like the times.
    function _issuedAtOrdinal(string calldata issuedAt) private pure returns (uint64 ordinal) {
        bytes calldata text = bytes(issuedAt);
        if (text.length != 24 || text[23] != "Z") revert InvalidIssuedAt();
        for (uint256 i = 0; i < 23; ++i) {
            bytes1 c = text[i];
            bool separator = i == 4 || i == 7 || i == 10 || i == 13 || i == 16 || i == 19;
            if (separator) {
                bytes1 expected = i == 10 ? bytes1("T") : i == 19 ? bytes1(".") : i < 10
                    ? bytes1("-")
                    : bytes1(":");
                if (c != expected) revert InvalidIssuedAt();
            } else {
                if (c < "0" || c > "9") revert InvalidIssuedAt();
                ordinal = ordinal * 10 + uint8(c) - 48;
            }
        }
    }

    /// @dev A root anchored again (a retried batch) keeps its first block and emits nothing.
    function _anchorAuditRoot(address patient, bytes32 root, uint64 firstSeq, uint64 lastSeq) private {
        if (patient == address(0)) revert ZeroAddress();
        if (root == bytes32(0)) revert InvalidAuditRoot();
        if (firstSeq > lastSeq) revert InvalidSequenceRange(firstSeq, lastSeq);
        if (_auditRootBlocks[patient][root] != 0) return;
        _auditRootBlocks[patient][root] = uint64(block.number);
        emit AuditRootAnchored(patient, root, firstSeq, lastSeq);
    }
}
