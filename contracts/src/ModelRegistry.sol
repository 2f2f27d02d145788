// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {ModelToken} from "./ModelToken.sol";

/// @title ModelRegistry: models by weights commitment, each with its ERC-7641 ModelToken (EIP-1167 clone).
/// @notice The operator registers a model once per weights commitment; the clone address is deterministic
///         (CREATE2 with the commitment as salt), see `predictToken`.
contract ModelRegistry is AccessControl, Pausable {
    /// @notice May register models (the oracle service's operator key).
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice May pause and unpause registration.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice A registered model.
    struct Model {
        address token;
        address publisher;
        uint64 registeredAt;
    }

    /// @notice The ModelToken implementation all clones delegate to.
    address public immutable tokenImplementation;
    /// @notice The UsageOracle: snapshotter of every token (set once by the admin).
    address public usageOracle;
    /// @notice Number of registered models.
    uint256 public modelCount;

    mapping(bytes32 weightsRoot => Model) private _models;
    mapping(address token => bytes32 weightsRoot) private _modelOfToken;

    /// @notice Emitted when the UsageOracle is set.
    event UsageOracleSet(address indexed usageOracle);
    /// @notice Emitted when a model is registered and its token deployed.
    event ModelRegistered(
        bytes32 indexed weightsRoot,
        address indexed token,
        address indexed publisher,
        string name,
        string symbol,
        uint256 supply,
        uint16 holdersBps
    );

    error ZeroAddress();
    error UsageOracleAlreadySet();
    error UsageOracleNotSet();
    error InvalidWeightsRoot();
    error AlreadyRegistered(bytes32 weightsRoot);
    error UnknownModel(bytes32 weightsRoot);
    error UnknownToken(address token);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants roles, sets the UsageOracle once).
    /// @param operator Holder of OPERATOR_ROLE.
    /// @param guardian Holder of GUARDIAN_ROLE.
    constructor(address admin, address operator, address guardian) {
        if (admin == address(0) || operator == address(0) || guardian == address(0)) revert ZeroAddress();
        tokenImplementation = address(new ModelToken());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(GUARDIAN_ROLE, guardian);
    }

    /// @notice Set the UsageOracle (once; no upgradeability).
    function setUsageOracle(address usageOracle_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (usageOracle_ == address(0)) revert ZeroAddress();
        if (usageOracle != address(0)) revert UsageOracleAlreadySet();
        usageOracle = usageOracle_;
        emit UsageOracleSet(usageOracle_);
    }

    /// @notice Register a model and deploy its ModelToken clone, minting `supply` to `publisher`.
    /// @param weightsRoot The model's weights commitment (unique, non-zero).
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param publisher Receives the whole token supply.
    /// @param supply Token supply.
    /// @param holdersBps Holders' claimable share of revenue in basis points; the rest is redeemable on burn.
    /// @return token The new token.
    function register(
        bytes32 weightsRoot,
        string calldata name_,
        string calldata symbol_,
        address publisher,
        uint256 supply,
        uint16 holdersBps
    ) external onlyRole(OPERATOR_ROLE) whenNotPaused returns (address token) {
        if (weightsRoot == bytes32(0)) revert InvalidWeightsRoot();
        if (_models[weightsRoot].token != address(0)) revert AlreadyRegistered(weightsRoot);
        address oracle = usageOracle;
        if (oracle == address(0)) revert UsageOracleNotSet();
        token = Clones.cloneDeterministic(tokenImplementation, weightsRoot);
        _models[weightsRoot] = Model({token: token, publisher: publisher, registeredAt: uint64(block.timestamp)});
        _modelOfToken[token] = weightsRoot;
        ++modelCount;
        ModelToken(payable(token)).initialize(name_, symbol_, publisher, supply, holdersBps, oracle);
        emit ModelRegistered(weightsRoot, token, publisher, name_, symbol_, supply, holdersBps);
    }

    /// @notice Token of a model, or address(0) when not registered.
    function tokenOf(bytes32 weightsRoot) external view returns (address) {
        return _models[weightsRoot].token;
    }

    /// @notice Full record of a registered model; reverts when unknown.
    function getModel(bytes32 weightsRoot) external view returns (Model memory model) {
        model = _models[weightsRoot];
        if (model.token == address(0)) revert UnknownModel(weightsRoot);
    }

    /// @notice Weights commitment of a token; reverts when the token is not one of ours.
    function modelOf(address token) external view returns (bytes32 weightsRoot) {
        weightsRoot = _modelOfToken[token];
        if (weightsRoot == bytes32(0)) revert UnknownToken(token);
    }

    /// @notice Address the token of `weightsRoot` has (or will have) once registered.
    function predictToken(bytes32 weightsRoot) external view returns (address) {
        return Clones.predictDeterministicAddress(tokenImplementation, weightsRoot);
    }

    /// @notice Pause registration.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume registration.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }
}
